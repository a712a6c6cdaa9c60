//! `interlock migrate-check`: what becomes of each ingress-nginx annotation of
//! the Ingresses in a directory of Kubernetes YAML, or of a cluster (without a
//! directory), before switching over. Both give the same report for the same
//! objects.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use interlock::sources::file::{is_manifest_name, parse_manifests};
use interlock::sources::kube::{connect, read_cluster};
use interlock::translate::source::ingress::annotations::report;
use interlock::translate::TranslateConfig;
use interlock::world::World;

/// Arguments of `interlock migrate-check`.
#[derive(Args, Debug)]
pub struct MigrateCheckArgs {
    /// Directory of Kubernetes YAML (read recursively): Ingresses, and the
    /// IngressClasses and Secrets they name. Without it, the Ingresses are read
    /// from the cluster (`--kubeconfig`, `--namespace`).
    pub dir: Option<PathBuf>,
    /// Kubeconfig file for reading a cluster (default: KUBECONFIG,
    /// ~/.kube/config, then the in-cluster service account).
    #[arg(long, conflicts_with = "dir")]
    pub kubeconfig: Option<PathBuf>,
    /// Read only this namespace's Ingresses from the cluster (default: all).
    #[arg(long, conflicts_with = "dir")]
    pub namespace: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Prefix of the annotations (ingress-nginx's `--annotations-prefix`).
    #[arg(long, default_value = interlock::translate::source::ingress::DEFAULT_PREFIX)]
    pub annotations_prefix: String,
    /// IngressClass name Interlock would serve (e.g. `nginx` to take over).
    #[arg(long, default_value = "interlock")]
    pub ingress_class: String,
    /// `spec.controller` Interlock would claim (e.g. `k8s.io/ingress-nginx`).
    #[arg(long, default_value = "interlock.dev/ingress-controller")]
    pub controller_name: String,
}

/// Reads the directory (or the cluster) and prints the report.
pub fn run(args: MigrateCheckArgs) -> anyhow::Result<()> {
    let world = match &args.dir {
        Some(dir) => {
            let mut world = World::new();
            load(dir, &mut world)?;
            world
        }
        None => super::runtime()?.block_on(from_cluster(&args))?,
    };
    let config = TranslateConfig {
        ingress_class: args.ingress_class,
        controller_name: args.controller_name,
        annotations_prefix: args.annotations_prefix,
        ..TranslateConfig::default()
    };
    let reports = report::check(&world, &config);
    if args.json {
        let out = serde_json::json!({
            "ingresses": reports,
            "totals": report::totals(&reports),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", report::render_text(&reports));
    }
    Ok(())
}

/// The Ingresses of the cluster, with their IngressClasses and named Secrets;
/// a named Secret that cannot be read is reported on stderr.
async fn from_cluster(args: &MigrateCheckArgs) -> anyhow::Result<World> {
    let client = connect(args.kubeconfig.as_deref()).await?;
    let read = read_cluster(client, args.namespace.as_deref()).await?;
    for (key, error) in &read.unreadable {
        eprintln!("warning: cannot read Secret {key}: {error}");
    }
    Ok(read.world)
}

fn load(dir: &Path, world: &mut World) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            load(&path, world)?;
            continue;
        }
        if !path.file_name().is_some_and(is_manifest_name) {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let objects =
            parse_manifests(&text).with_context(|| format!("parsing {}", path.display()))?;
        for object in objects {
            world.upsert(object);
        }
    }
    Ok(())
}
