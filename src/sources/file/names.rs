//! Which directory entries are manifests. Editors and tools leave hidden and
//! temporary files next to the real ones; reading those would load stale or
//! half-written copies.

use std::ffi::OsStr;

/// True for `*.yaml` / `*.yml` names that are not hidden (`.foo.yaml`, which
/// also covers vim's `.foo.yaml.swp`, emacs's `.#foo.yaml` and Kubernetes'
/// `..data`) and not editor backups (`foo.yaml~`, `#foo.yaml#`). Extensions are
/// matched case-sensitively, as `kubectl apply -f DIR` does.
pub fn is_manifest_name(name: &OsStr) -> bool {
    let Some(name) = name.to_str() else {
        return false;
    };
    if name.starts_with('.') || name.ends_with('~') || name.starts_with('#') {
        return false;
    }
    name.ends_with(".yaml") || name.ends_with(".yml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_visible_yaml_files_are_manifests() {
        for name in ["a.yaml", "b.yml", "with space.yaml", "x.y.yaml"] {
            assert!(is_manifest_name(OsStr::new(name)), "{name}");
        }
        for name in [
            ".a.yaml",
            ".a.yaml.swp",
            ".#a.yaml",
            "a.yaml~",
            "#a.yaml#",
            "..data",
            "a.json",
            "a.yaml.bak",
            "a.YAML",
            "4913",
        ] {
            assert!(!is_manifest_name(OsStr::new(name)), "{name}");
        }
    }
}
