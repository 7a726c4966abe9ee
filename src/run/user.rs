//! The user a process runs as, resolved inside the container from its
//! `/etc/passwd` and `/etc/group` with Docker's (runc's `GetExecUser`) rules.

/// The identity a container process gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the groups listing the user by name, only when
    /// the spec names no group.
    pub sgids: Vec<u32>,
    pub home: String,
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// The largest id Docker accepts (ids are signed 32-bit there).
const MAX_ID: u32 = i32::MAX as u32;

fn numeric(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn entries(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
}

fn field<'a>(f: &[&'a str], i: usize) -> &'a str {
    f.get(i).copied().unwrap_or("")
}

fn passwd_entries(text: &str) -> Vec<PasswdEntry<'_>> {
    entries(text)
        .map(|f| PasswdEntry {
            name: field(&f, 0),
            uid: field(&f, 2).parse().unwrap_or(0),
            gid: field(&f, 3).parse().unwrap_or(0),
            home: field(&f, 5),
        })
        .collect()
}

fn group_entries(text: &str) -> Vec<GroupEntry<'_>> {
    entries(text)
        .map(|f| GroupEntry {
            name: field(&f, 0),
            gid: field(&f, 2).parse().unwrap_or(0),
            members: field(&f, 3).split(',').filter(|m| !m.is_empty()).collect(),
        })
        .collect()
}

/// Resolves `spec` ("", "uid", "name", "uid:gid", "name:group", …) against
/// the texts of the container's passwd and group files (empty when absent).
/// Unknown names are errors with Docker's messages; a numeric uid or gid
/// without an entry is fine (gid 0, home "/").
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser, String> {
    let mut parts = spec.split(':');
    let user_arg = parts.next().unwrap_or("");
    let group_arg = parts.next().unwrap_or("");
    let uid_arg = numeric(user_arg);
    let gid_arg = numeric(group_arg);
    let mut user = ExecUser {
        uid: 0,
        gid: 0,
        sgids: Vec::new(),
        home: "/".to_string(),
    };

    let users = passwd_entries(passwd);
    let found = users.iter().find(|u| {
        if user_arg.is_empty() {
            u.uid == 0
        } else if let Some(uid) = uid_arg {
            u.uid == uid
        } else {
            u.name == user_arg
        }
    });
    let mut matched_name = "";
    match (found, uid_arg) {
        (Some(u), _) => {
            matched_name = u.name;
            user.uid = u.uid;
            user.gid = u.gid;
            user.home = u.home.to_string();
        }
        (None, _) if user_arg.is_empty() => {}
        (None, Some(uid)) if uid <= MAX_ID => user.uid = uid,
        (None, Some(_)) => return Err(format!("uid {user_arg} is out of range")),
        (None, None) => {
            return Err(format!(
                "unable to find user {user_arg}: no matching entries in passwd file"
            ));
        }
    }

    if !group_arg.is_empty() {
        let groups = group_entries(group);
        let found = groups.iter().find(|g| match gid_arg {
            Some(gid) => g.gid == gid,
            None => g.name == group_arg,
        });
        user.gid = match (found, gid_arg) {
            (Some(g), _) => g.gid,
            (None, Some(gid)) if gid <= MAX_ID => gid,
            (None, Some(_)) => return Err(format!("gid {group_arg} is out of range")),
            (None, None) => {
                return Err(format!(
                    "unable to find group {group_arg}: no matching entries in group file"
                ));
            }
        };
    } else if !matched_name.is_empty() {
        user.sgids = group_entries(group)
            .iter()
            .filter(|g| g.members.contains(&matched_name))
            .map(|g| g.gid)
            .collect();
    }
    if user.home.is_empty() {
        user.home = "/".to_string();
    }
    Ok(user)
}

/// `--group-add`'s groups: each a number (an entry or not) or a name
/// from the container's group file, as runc's `GetAdditionalGroups`.
pub fn additional_groups(names: &[String], group: &str) -> Result<Vec<u32>, String> {
    let groups = group_entries(group);
    names
        .iter()
        .map(|name| match (groups.iter().find(|g| g.name == name), numeric(name)) {
            (Some(g), _) => Ok(g.gid),
            (None, Some(gid)) if gid <= MAX_ID => Ok(gid),
            _ => Err(format!(
                "unable to find group {name}: no matching entries in group file"
            )),
        })
        .collect()
}

/// Docker's default `PATH`, added when the environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The final environment: `env` plus `PATH` and `HOME` when absent.
pub fn final_env(env: &[String], home: &str) -> Vec<String> {
    let has = |key: &str| {
        env.iter()
            .any(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
    };
    let mut out = env.to_vec();
    if !has("PATH") {
        out.push(format!("PATH={DEFAULT_PATH}"));
    }
    if !has("HOME") {
        out.push(format!("HOME={home}"));
    }
    out
}

/// The value of `key` in a `KEY=VALUE` list (the last one wins, as a shell
/// would see it).
pub fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|e| e.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_groups_by_name_or_number() {
        let group = "root:x:0:\nwheel:x:10:root\naudio:x:29:\n";
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            additional_groups(&names(&["audio", "10", "4242"]), group).unwrap(),
            vec![29, 10, 4242]
        );
        let e = additional_groups(&names(&["ghosts"]), group).unwrap_err();
        assert_eq!(e, "unable to find group ghosts: no matching entries in group file");
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        # comment\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        www-data:x:33:33:www-data:/var/www:/bin/false\n\
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n\
        nohome:x:1000:1000::\n";
    const GROUP: &str = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwheel:x:10:root\nstaff:x:50:www-data,root\n\
        www-data:x:33:\nnogroup:x:65534:\n";

    fn r(spec: &str) -> Result<ExecUser, String> {
        resolve(spec, PASSWD, GROUP)
    }

    #[test]
    fn empty_spec_is_root_with_its_groups() {
        let u = r("").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.sgids, vec![10, 50]);
    }

    #[test]
    fn names_and_numbers() {
        let u = r("nobody").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (65534, 65534, "/nonexistent"));
        assert!(u.sgids.is_empty());
        let u = r("33").unwrap();
        assert_eq!((u.uid, u.gid, u.sgids.clone()), (33, 33, vec![50]));
        let u = r("www-data:tty").unwrap();
        assert_eq!((u.uid, u.gid), (33, 5));
        assert!(u.sgids.is_empty(), "an explicit group drops supplementary groups");
        let u = r("1:65534").unwrap();
        assert_eq!((u.uid, u.gid), (1, 65534));
        let u = r("0:wheel").unwrap();
        assert_eq!((u.uid, u.gid), (0, 10));
    }

    #[test]
    fn unknown_numeric_ids_are_fine() {
        let u = r("4242").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        assert!(u.sgids.is_empty());
        let u = r("4242:777").unwrap();
        assert_eq!((u.uid, u.gid), (4242, 777));
        let u = r("nobody:777").unwrap();
        assert_eq!((u.uid, u.gid), (65534, 777));
        let u = r("nohome").unwrap();
        assert_eq!(u.home, "/");
    }

    #[test]
    fn unknown_names_fail_with_dockers_messages() {
        assert_eq!(
            r("ghost").unwrap_err(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert_eq!(
            r("nobody:ghosts").unwrap_err(),
            "unable to find group ghosts: no matching entries in group file"
        );
        assert_eq!(
            resolve("root", "", "").unwrap_err(),
            "unable to find user root: no matching entries in passwd file"
        );
        assert!(r("4294967295").is_err());
    }

    #[test]
    fn missing_files_mean_root_defaults() {
        let u = resolve("", "", "").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/"));
        let u = resolve("7:8", "", "").unwrap();
        assert_eq!((u.uid, u.gid), (7, 8));
    }

    #[test]
    fn env_gets_path_and_home_when_absent() {
        let env = final_env(&["A=1".to_string()], "/root");
        assert_eq!(
            env,
            vec![
                "A=1".to_string(),
                format!("PATH={DEFAULT_PATH}"),
                "HOME=/root".to_string()
            ]
        );
        let env = final_env(&["PATH=/x".to_string(), "HOME=/h".to_string()], "/root");
        assert_eq!(env, vec!["PATH=/x".to_string(), "HOME=/h".to_string()]);
        assert_eq!(env_value(&env, "PATH"), Some("/x"));
        assert_eq!(env_value(&env, "NOPE"), None);
    }
}
