//! A container's environment as Docker records and applies it.
//!
//! Two steps, as moby takes them:
//! - at create, `Config.Env` is the request's entries followed by the
//!   image's whose key the request does not name ([`merge_image_env`],
//!   moby's `daemon.merge`): the record and inspect show the image's
//!   `PATH` and the like;
//! - at start (and exec), the process's environment is Docker's defaults
//!   (`PATH`, `HOSTNAME`, `TERM` on a terminal) with `Config.Env` (and an
//!   exec's own entries) replacing or appended by key ([`replace_or_append`],
//!   moby's `ReplaceOrAppendEnvValues`). An entry without `=` (what the
//!   docker CLI sends for `-e VAR` when VAR is unset on its side) unsets
//!   VAR: it never reaches a process, not even as `VAR=`.

use crate::run::user::DEFAULT_PATH;

/// The key of a `KEY=VALUE` entry (the whole entry when it has no `=`).
fn key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// `Config.Env` at create: the request's entries, then the image's whose
/// key the request does not name. An entry `VAR` of the request keeps the
/// image's VAR out (and unsets it at start).
pub fn merge_image_env(request: Vec<String>, image: &[String]) -> Vec<String> {
    if request.is_empty() {
        return image.to_vec();
    }
    let mut env = request;
    for entry in image {
        if !env.iter().any(|e| key(e) == key(entry)) {
            env.push(entry.clone());
        }
    }
    env
}

/// `defaults` with each entry of `overrides` replacing the one of the
/// same key in place, or appended; an override without `=` removes its
/// key.
pub fn replace_or_append(mut defaults: Vec<String>, overrides: &[String]) -> Vec<String> {
    for entry in overrides {
        let unset = !entry.contains('=');
        match defaults.iter().position(|d| key(d) == key(entry)) {
            Some(i) if unset => {
                defaults.remove(i);
            }
            Some(i) => defaults[i] = entry.clone(),
            None if unset => {}
            None => defaults.push(entry.clone()),
        }
    }
    // A key given twice in the defaults' own list keeps no unset twin.
    defaults.retain(|d| d.contains('='));
    defaults
}

/// The environment of a container's process (moby's
/// `CreateDaemonEnvironment`): `PATH`, `HOSTNAME` and, on a terminal,
/// `TERM=xterm`, overridden by `config_env`; then `extra` (an exec's
/// `Env`) over that.
pub fn process_env(config_env: &[String], hostname: &str, tty: bool, extra: &[String]) -> Vec<String> {
    let mut defaults = vec![format!("PATH={DEFAULT_PATH}"), format!("HOSTNAME={hostname}")];
    if tty {
        defaults.push("TERM=xterm".into());
    }
    let env = replace_or_append(defaults, config_env);
    replace_or_append(env, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_request_comes_first_and_the_image_fills_in() {
        let image = v(&["PATH=/bin", "A=image", "X=1"]);
        assert_eq!(
            merge_image_env(v(&["A=req", "B=1"]), &image),
            v(&["A=req", "B=1", "PATH=/bin", "X=1"])
        );
        assert_eq!(merge_image_env(Vec::new(), &image), image);
        // `-e X` with X unset on the client's side: the image's X is out.
        assert_eq!(merge_image_env(v(&["X"]), &image), v(&["X", "PATH=/bin", "A=image"]));
    }

    #[test]
    fn an_entry_without_a_value_unsets() {
        let env = process_env(&v(&["X", "A=1", "HOSTNAME=mine"]), "box", false, &[]);
        assert_eq!(env, v(&[&format!("PATH={DEFAULT_PATH}"), "HOSTNAME=mine", "A=1"]));
        let env = process_env(&v(&["A=1", "B=2"]), "box", true, &v(&["B", "C=3", "A=9"]));
        assert_eq!(
            env,
            v(&[
                &format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=box",
                "TERM=xterm",
                "A=9",
                "C=3"
            ])
        );
        assert_eq!(replace_or_append(v(&["PATH=/x"]), &v(&["PATH"])), Vec::<String>::new());
    }
}
