//! The file source against a real directory: initial load, live changes, and
//! the robustness rules (broken files keep their objects, duplicates resolve
//! predictably). Waits are bounded and say what they waited for; no test
//! asserts on how long anything took.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use interlock::sources::file::{FileSource, FileSourceError, FileSourceStatus};
use interlock::world::{Kind, ObjectKey, World, WorldEvent};
use tempfile::TempDir;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Upper bound on any wait; generous so a loaded CI machine never flakes.
const WAIT: Duration = Duration::from_secs(10);

// === fixtures ===

fn ingress(name: &str, service: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: shop
spec:
  rules:
  - host: {name}.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {service}
            port:
              number: 80
"
    )
}

fn service(name: &str, port: i32) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: shop
spec:
  ports:
  - name: http
    port: {port}
"
    )
}

fn docs(documents: &[String]) -> String {
    documents.join("---\n")
}

/// The Service an Ingress's first rule routes to.
fn backend_of(world: &World, name: &str) -> Option<String> {
    let ingress = world.ingresses.get(&ObjectKey::new("shop", name))?;
    let rule = ingress.spec.as_ref()?.rules.as_ref()?.first()?;
    let path = rule.http.as_ref()?.paths.first()?;
    Some(path.backend.service.as_ref()?.name.clone())
}

fn service_port(world: &World, name: &str) -> Option<i32> {
    let service = world.services.get(&ObjectKey::new("shop", name))?;
    Some(service.spec.as_ref()?.ports.as_ref()?.first()?.port)
}

fn names(world: &World, kind: Kind) -> Vec<String> {
    let keys: Vec<&ObjectKey> = match kind {
        Kind::Ingress => world.ingresses.keys().collect(),
        Kind::IngressClass => world.ingress_classes.keys().collect(),
        Kind::Service => world.services.keys().collect(),
        Kind::EndpointSlice => world.endpoint_slices.keys().collect(),
        Kind::Secret => world.secrets.keys().collect(),
    };
    keys.into_iter().map(ToString::to_string).collect()
}

// === harness ===

/// A running file source, with the world its events build.
struct Running {
    /// Keeps the temporary directory alive.
    tmp: TempDir,
    /// The directory the source reads (the temporary directory or inside it).
    dir: PathBuf,
    events: mpsc::Receiver<WorldEvent>,
    world: World,
    status: FileSourceStatus,
    task: JoinHandle<Result<(), FileSourceError>>,
    /// Events received since the last `take_log`.
    log: Vec<WorldEvent>,
}

fn new_dir() -> TempDir {
    TempDir::new().expect("create a temporary directory")
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Starts a source on `tmp` and waits for its initial load (through `Synced`).
async fn start(tmp: TempDir) -> Running {
    let dir = tmp.path().to_owned();
    start_with(tmp, dir, |source| source).await
}

/// Starts a source on `dir` (inside `tmp`), configured by `configure`.
async fn start_with(
    tmp: TempDir,
    dir: PathBuf,
    configure: impl FnOnce(FileSource) -> FileSource,
) -> Running {
    let source = configure(FileSource::new(&dir).expect("the directory exists"));
    let status = source.status();
    let (tx, events) = mpsc::channel(64);
    let task = tokio::spawn(source.run(tx));
    let mut running = Running {
        tmp,
        dir,
        events,
        world: World::new(),
        status,
        task,
        log: Vec::new(),
    };
    running
        .receive_until(
            "the initial load to end with Synced",
            |event| matches!(event, WorldEvent::Synced { source } if source == "file"),
        )
        .await;
    let deadline = Instant::now() + WAIT;
    while !running.status.is_synced() {
        assert!(
            Instant::now() < deadline,
            "waited {WAIT:?} for the status to sync"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running
}

impl Running {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    async fn next_event(&mut self, what: &str, deadline: Instant) -> WorldEvent {
        match tokio::time::timeout_at(deadline, self.events.recv()).await {
            Ok(Some(event)) => {
                self.log.push(event.clone());
                self.world.apply(event.clone());
                event
            }
            Ok(None) => panic!(
                "the file source stopped while waiting for {what}: {:?}",
                (&mut self.task).await
            ),
            Err(_) => panic!(
                "waited {WAIT:?} for {what}; events so far: {:#?}\nerrors: {:?}",
                self.log,
                self.status.errors()
            ),
        }
    }

    /// Receives events until one matches.
    async fn receive_until(&mut self, what: &str, done: impl Fn(&WorldEvent) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.next_event(what, deadline).await) {}
    }

    /// Receives events until the world satisfies `done`.
    async fn settle(&mut self, what: &str, done: impl Fn(&World) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.world) {
            self.next_event(what, deadline).await;
        }
    }

    /// Waits until `path` is reported broken; returns the report. Every event of
    /// the pass that found the error has been received when this returns.
    async fn wait_for_error(&mut self, path: &Path) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(message) = self.status.errors().get(path) {
                self.drain();
                return message.clone();
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {} to be reported; errors: {:?}",
                path.display(),
                self.status.errors()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.drain();
        }
    }

    /// Waits until the source has finished a pass after the one numbered
    /// `seen` (from `status.refreshes()` taken before the change), then
    /// receives what it sent.
    async fn wait_for_pass_after(&mut self, seen: u64) {
        self.wait_for_status("a pass over the directory", |status| {
            status.refreshes() > seen
        })
        .await;
    }

    /// Waits until the status satisfies `done`, receiving events meanwhile.
    async fn wait_for_status(&mut self, what: &str, done: impl Fn(&FileSourceStatus) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.status) {
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {what}; errors: {:?}",
                self.status.errors()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.drain();
    }

    /// Applies whatever has been sent so far.
    fn drain(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.log.push(event.clone());
            self.world.apply(event);
        }
    }

    fn take_log(&mut self) -> Vec<WorldEvent> {
        std::mem::take(&mut self.log)
    }

    fn deletes(&self) -> Vec<String> {
        self.log
            .iter()
            .filter_map(|event| match event {
                WorldEvent::Delete(reference) => Some(reference.to_string()),
                _ => None,
            })
            .collect()
    }
}

// === initial load ===

#[tokio::test]
async fn initial_load_replaces_every_kind_then_syncs() {
    let tmp = new_dir();
    write(
        &tmp.path().join("shop.yaml"),
        &docs(&[ingress("web", "web"), service("web", 80)]),
    );
    write(
        &tmp.path().join("list.yml"),
        "apiVersion: v1
kind: List
items:
- apiVersion: networking.k8s.io/v1
  kind: IngressClass
  metadata: {name: interlock}
  spec: {controller: interlock.dev/ingress}
- apiVersion: v1
  kind: Secret
  metadata: {name: tls, namespace: shop}
  stringData: {tls.crt: cert, tls.key: key}
",
    );
    let mut running = start(tmp).await;

    let log = running.take_log();
    let (last, replaces) = log.split_last().expect("events");
    assert_eq!(
        last,
        &WorldEvent::Synced {
            source: "file".into()
        }
    );
    let kinds: Vec<Kind> = replaces
        .iter()
        .map(|event| match event {
            WorldEvent::Replace { kind, .. } => *kind,
            other => panic!("the initial load sends only Replace, got {other:?}"),
        })
        .collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(sorted, Kind::ALL, "one Replace per kind, even empty kinds");
    assert_eq!(
        kinds.last(),
        Some(&Kind::Ingress),
        "Ingresses arrive after what they refer to"
    );

    let world = &running.world;
    assert_eq!(names(world, Kind::Ingress), ["shop/web"]);
    assert_eq!(names(world, Kind::Service), ["shop/web"]);
    assert_eq!(names(world, Kind::IngressClass), ["interlock"]);
    assert_eq!(names(world, Kind::Secret), ["shop/tls"]);
    let secret = &world.secrets[&ObjectKey::new("shop", "tls")];
    assert_eq!(
        secret.data.as_ref().and_then(|d| d.get("tls.key")),
        Some(&k8s_openapi::ByteString(b"key".to_vec())),
        "stringData is honoured"
    );
    assert!(running.status.is_synced());
    assert!(running.status.errors().is_empty());
}

#[tokio::test]
async fn hidden_and_editor_temp_files_are_ignored() {
    let tmp = new_dir();
    let broken = "this: [is not: yaml";
    for name in [
        ".web.yaml.swp",
        ".#web.yaml",
        "web.yaml~",
        "#web.yaml#",
        "notes.txt",
    ] {
        write(&tmp.path().join(name), broken);
    }
    fs::create_dir(tmp.path().join("sub")).expect("mkdir");
    write(&tmp.path().join("sub/nested.yaml"), &service("nested", 80));
    write(&tmp.path().join("web.yaml"), &service("web", 80));
    let running = start(tmp).await;
    assert_eq!(names(&running.world, Kind::Service), ["shop/web"]);
    assert!(
        running.status.errors().is_empty(),
        "ignored files are never read: {:?}",
        running.status.errors()
    );
}

#[tokio::test]
async fn unknown_kinds_are_skipped_and_the_rest_loads() {
    let tmp = new_dir();
    write(
        &tmp.path().join("app.yaml"),
        &docs(&[
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
                .to_owned(),
            service("web", 80),
            "apiVersion: v1\nkind: Service\nmetadata: {namespace: shop}\n".to_owned(),
        ]),
    );
    let running = start(tmp).await;
    assert_eq!(names(&running.world, Kind::Service), ["shop/web"]);
    assert!(running.status.errors().is_empty(), "skips are not errors");
}

#[tokio::test]
async fn a_file_broken_at_start_is_reported_and_the_rest_loads() {
    let tmp = new_dir();
    write(&tmp.path().join("good.yaml"), &service("good", 80));
    write(
        &tmp.path().join("bad.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: \"x}\n",
    );
    let running = start(tmp).await;
    assert_eq!(names(&running.world, Kind::Service), ["shop/good"]);
    let errors = running.status.errors();
    let bad = running.path("bad.yaml");
    assert!(
        errors
            .get(&bad)
            .is_some_and(|e| e.starts_with("document 1: ")),
        "{errors:?}"
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let tmp = new_dir();
    let missing = tmp.path().join("nope");
    match FileSource::new(&missing) {
        Err(FileSourceError::DirNotFound(path)) => assert_eq!(path, missing),
        other => panic!("expected DirNotFound, got {other:?}"),
    }
    let file = tmp.path().join("file.yaml");
    write(&file, "");
    assert!(matches!(
        FileSource::new(&file),
        Err(FileSourceError::NotADirectory(_))
    ));
}

// === live changes ===

#[tokio::test]
async fn creating_a_file_upserts_its_objects() {
    let mut running = start(new_dir()).await;
    running.take_log();
    write(
        &running.path("web.yaml"),
        &docs(&[ingress("web", "web"), service("web", 80)]),
    );
    running
        .settle("web.yaml's Ingress and Service", |w| {
            backend_of(w, "web").as_deref() == Some("web") && service_port(w, "web") == Some(80)
        })
        .await;
    assert!(running.deletes().is_empty(), "{:?}", running.log);
}

#[tokio::test]
async fn modifying_a_file_upserts_changes_and_deletes_what_it_no_longer_holds() {
    let tmp = new_dir();
    write(
        &tmp.path().join("web.yaml"),
        &docs(&[ingress("web", "v1"), service("v1", 80)]),
    );
    let mut running = start(tmp).await;
    running.take_log();

    write(
        &running.path("web.yaml"),
        &docs(&[ingress("web", "v2"), service("v2", 8080)]),
    );
    running
        .settle("the Ingress to route to v2 and v1 to be gone", |w| {
            backend_of(w, "web").as_deref() == Some("v2")
                && service_port(w, "v2") == Some(8080)
                && service_port(w, "v1").is_none()
        })
        .await;
    assert_eq!(
        running.deletes(),
        ["Service shop/v1"],
        "the Ingress was changed in place, never deleted"
    );
}

#[tokio::test]
async fn deleting_a_file_deletes_its_objects() {
    let tmp = new_dir();
    write(&tmp.path().join("a.yaml"), &ingress("a", "s"));
    write(&tmp.path().join("b.yaml"), &ingress("b", "s"));
    let mut running = start(tmp).await;
    running.take_log();

    fs::remove_file(running.path("a.yaml")).expect("rm a.yaml");
    running
        .settle("Ingress a to be deleted", |w| backend_of(w, "a").is_none())
        .await;
    assert_eq!(names(&running.world, Kind::Ingress), ["shop/b"]);
    assert_eq!(running.deletes(), ["Ingress shop/a"]);
}

#[tokio::test]
async fn renaming_files_in_and_out_of_the_directory_adds_and_removes_them() {
    let outside = new_dir();
    let mut running = start(new_dir()).await;

    // In from elsewhere (how `kubectl`-style tools and editors save atomically).
    let staged = outside.path().join("in.yaml");
    write(&staged, &ingress("moved-in", "s"));
    fs::rename(&staged, running.path("in.yaml")).expect("rename in");
    running
        .settle("a file renamed into the directory", |w| {
            backend_of(w, "moved-in").is_some()
        })
        .await;

    // From an ignored name to a manifest name, inside the directory.
    write(&running.path(".tmp-save"), &ingress("saved", "s"));
    fs::rename(running.path(".tmp-save"), running.path("saved.yaml")).expect("rename");
    running
        .settle("a temp file renamed to a manifest name", |w| {
            backend_of(w, "saved").is_some()
        })
        .await;

    // Out of the directory, and to a name that is not a manifest.
    fs::rename(running.path("in.yaml"), outside.path().join("gone.yaml")).expect("rename out");
    fs::rename(running.path("saved.yaml"), running.path("saved.yaml.bak")).expect("rename");
    running
        .settle("renamed-away files to lose their objects", |w| {
            w.ingresses.is_empty()
        })
        .await;
}

#[tokio::test]
async fn a_burst_of_writes_settles_on_the_final_content() {
    let mut running = start(new_dir()).await;
    let path = running.path("web.yaml");
    for port in 1..=50 {
        write(&path, &service("web", port));
    }
    running
        .settle("the last of 50 quick writes", |w| {
            service_port(w, "web") == Some(50)
        })
        .await;
}

/// A file closed after writing, or renamed into place, is complete: it is
/// read at once, not after the quiet window that waits out unsettled bursts.
#[tokio::test]
async fn a_file_renamed_into_place_is_read_without_waiting_for_quiet() {
    let tmp = new_dir();
    let dir = tmp.path().to_owned();
    // A quiet window far longer than the wait below: only a settled event can
    // end the batch in time.
    let quiet = WAIT * 6;
    let mut running = start_with(tmp, dir, |s| s.with_debounce(quiet, quiet * 2)).await;
    let tmp_path = running.path(".web.yaml.tmp");
    write(&tmp_path, &service("web", 8080));
    fs::rename(&tmp_path, running.path("web.yaml")).expect("rename into place");
    running
        .settle("the renamed file, before the quiet window ends", |w| {
            service_port(w, "web") == Some(8080)
        })
        .await;
    // And a file written in place is read once it is closed.
    write(&running.path("web.yaml"), &service("web", 8081));
    running
        .settle("the rewritten file, once closed", |w| {
            service_port(w, "web") == Some(8081)
        })
        .await;
}

// === robustness ===

#[tokio::test]
async fn half_written_file_keeps_its_objects() {
    let tmp = new_dir();
    let full = docs(&[ingress("web", "web"), service("web", 80)]);
    write(&tmp.path().join("web.yaml"), &full);
    let mut running = start(tmp).await;
    running.take_log();
    let path = running.path("web.yaml");

    // An editor's save cut off inside a quoted name: not valid YAML.
    let half = format!(
        "{}---\napiVersion: v1\nkind: Service\nmetadata: {{name: \"we",
        ingress("web", "web")
    );
    write(&path, &half);
    let error = running.wait_for_error(&path).await;
    assert!(error.starts_with("document "), "{error}");
    assert!(
        running.deletes().is_empty(),
        "a broken file deletes nothing: {:?}",
        running.log
    );
    assert_eq!(backend_of(&running.world, "web").as_deref(), Some("web"));
    assert_eq!(service_port(&running.world, "web"), Some(80));

    // The save completes: the file applies again and the error clears.
    write(&path, &docs(&[ingress("web", "web"), service("web", 81)]));
    running
        .settle("the fixed file to apply", |w| {
            service_port(w, "web") == Some(81)
        })
        .await;
    running
        .wait_for_status("the error to clear", |status| status.errors().is_empty())
        .await;
}

#[tokio::test]
async fn a_file_emptied_mid_save_keeps_its_objects() {
    let tmp = new_dir();
    write(&tmp.path().join("web.yaml"), &service("web", 80));
    let mut running = start(tmp).await;
    running.take_log();
    let path = running.path("web.yaml");

    write(&path, "");
    let error = running.wait_for_error(&path).await;
    assert!(error.contains("empty"), "{error}");
    assert!(running.deletes().is_empty(), "{:?}", running.log);
    assert_eq!(service_port(&running.world, "web"), Some(80));

    // Deleting the file is how its objects are removed.
    fs::remove_file(&path).expect("rm");
    running
        .settle("the emptied file's removal", |w| w.services.is_empty())
        .await;
}

#[tokio::test]
async fn a_broken_file_that_never_loaded_reports_and_then_applies_once_fixed() {
    let mut running = start(new_dir()).await;
    let path = running.path("new.yaml");
    write(
        &path,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: [new\n",
    );
    running.wait_for_error(&path).await;
    assert!(running.world.is_empty());
    write(&path, &service("new", 80));
    running
        .settle("the fixed file", |w| service_port(w, "new") == Some(80))
        .await;
}

#[tokio::test]
async fn duplicate_objects_last_path_wins_and_removing_it_restores_the_other() {
    let tmp = new_dir();
    write(&tmp.path().join("a.yaml"), &service("web", 1));
    write(&tmp.path().join("b.yaml"), &service("web", 2));
    let mut running = start(tmp).await;
    assert_eq!(
        service_port(&running.world, "web"),
        Some(2),
        "b.yaml sorts after a.yaml and wins, as with `kubectl apply -f DIR`"
    );
    let conflicts = running.status.conflicts();
    let paths: Vec<PathBuf> = conflicts.values().flatten().cloned().collect();
    assert_eq!(paths, [running.path("a.yaml"), running.path("b.yaml")]);

    // Editing the losing file changes nothing.
    let seen = running.status.refreshes();
    write(&running.path("a.yaml"), &service("web", 3));
    running.wait_for_pass_after(seen).await;
    assert_eq!(service_port(&running.world, "web"), Some(2));

    // Removing the winner lets the other definition apply, without a delete.
    running.take_log();
    fs::remove_file(running.path("b.yaml")).expect("rm b.yaml");
    running
        .settle("a.yaml's definition to apply", |w| {
            service_port(w, "web") == Some(3)
        })
        .await;
    assert!(running.deletes().is_empty(), "{:?}", running.log);
    running
        .wait_for_status("the conflict to clear", |status| {
            status.conflicts().is_empty()
        })
        .await;

    // Removing the last definition deletes the object.
    fs::remove_file(running.path("a.yaml")).expect("rm a.yaml");
    running
        .settle("the Service to be deleted", |w| w.services.is_empty())
        .await;
}

#[cfg(unix)]
#[tokio::test]
async fn configmap_style_symlink_swap_applies() {
    use std::os::unix::fs::symlink;

    // The layout the kubelet gives a ConfigMap volume.
    let tmp = new_dir();
    let root = tmp.path();
    fs::create_dir(root.join("..2024_01")).expect("mkdir");
    write(&root.join("..2024_01/web.yaml"), &service("web", 80));
    symlink("..2024_01", root.join("..data")).expect("symlink ..data");
    symlink("..data/web.yaml", root.join("web.yaml")).expect("symlink web.yaml");
    let mut running = start(tmp).await;
    assert_eq!(service_port(&running.world, "web"), Some(80));

    // An update: a new timestamped directory, then an atomic rename of `..data`.
    let root = running.dir.clone();
    fs::create_dir(root.join("..2024_02")).expect("mkdir");
    write(&root.join("..2024_02/web.yaml"), &service("web", 81));
    symlink("..2024_02", root.join("..data_tmp")).expect("symlink");
    fs::rename(root.join("..data_tmp"), root.join("..data")).expect("swap ..data");
    fs::remove_dir_all(root.join("..2024_01")).expect("rm old");
    running
        .settle("the swapped-in content", |w| {
            service_port(w, "web") == Some(81)
        })
        .await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_directory_swapped_to_a_new_target_is_followed_and_watched() {
    use std::os::unix::fs::symlink;

    let tmp = new_dir();
    let root = tmp.path().to_owned();
    for (version, port) in [("v1", 80), ("v2", 81)] {
        fs::create_dir(root.join(version)).expect("mkdir");
        write(&root.join(version).join("web.yaml"), &service("web", port));
    }
    symlink("v1", root.join("current")).expect("symlink");
    // No resync: only file events may drive this test.
    let mut running = start_with(tmp, root.join("current"), |source| {
        source.with_resync(Duration::from_secs(3600))
    })
    .await;
    assert_eq!(service_port(&running.world, "web"), Some(80));

    // Swap the link atomically, then clean up the old target (as deploy
    // tools do); the cleanup is the event that reveals the swap.
    symlink("v2", root.join("next")).expect("symlink");
    fs::rename(root.join("next"), root.join("current")).expect("swap the directory symlink");
    fs::remove_file(root.join("v1/web.yaml")).expect("clean up v1");
    running
        .settle("the new target's content", |w| {
            service_port(w, "web") == Some(81)
        })
        .await;

    // The new target is watched: a write there applies without a resync.
    write(&root.join("v2/web.yaml"), &service("web", 82));
    running
        .settle("a write in the new target", |w| {
            service_port(w, "web") == Some(82)
        })
        .await;
}

#[tokio::test]
async fn a_directory_moved_away_keeps_its_objects_until_it_returns() {
    let tmp = new_dir();
    let dir = tmp.path().join("ingresses");
    fs::create_dir(&dir).expect("mkdir");
    write(&dir.join("web.yaml"), &service("web", 80));
    let mut running = start_with(tmp, dir.clone(), |source| {
        source.with_resync(Duration::from_millis(20))
    })
    .await;
    running.take_log();

    let away = running.tmp.path().join("away");
    fs::rename(&dir, &away).expect("move the directory away");
    let error = running.wait_for_error(&dir).await;
    assert!(error.contains("cannot read directory"), "{error}");
    assert_eq!(service_port(&running.world, "web"), Some(80));
    assert!(running.deletes().is_empty(), "{:?}", running.log);

    fs::create_dir(&dir).expect("recreate");
    write(&dir.join("web.yaml"), &service("web", 81));
    running
        .settle("the recreated directory's content", |w| {
            service_port(w, "web") == Some(81)
        })
        .await;
    running
        .wait_for_status("the directory error to clear", |status| {
            status.errors().is_empty()
        })
        .await;
}

#[tokio::test]
async fn dropping_the_receiver_stops_the_source() {
    let running = start(new_dir()).await;
    let Running { events, task, .. } = running;
    drop(events);
    let stopped = tokio::time::timeout(WAIT, task).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "run returns Ok once nobody listens: {stopped:?}"
    );
}
