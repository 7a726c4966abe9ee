//! User-defined networks (root): each network is a network namespace of
//! its own holding a Linux bridge, `br0`, with the network's gateway
//! address; a container joins it through a veth pair, one end (`ethN`,
//! with the container's address on the network's subnet) in the
//! container's namespace, the other enslaved to `br0`.
//!
//! Isolation needs no firewall rule: a network's bridge lives in its own
//! namespace, which has no route anywhere else, so two networks share no
//! link and nothing routes between them; the host's namespace has no
//! route to any of them either. A container's outbound access stays its
//! pasta's (`eth0`, see [`super::network`]).
//!
//! The namespace is bound onto `/run/strata/netns/net-<ID12>` (beside
//! the containers' files, which are named by full 64-digit IDs, so no
//! name is shared), made by `unshare --net=FILE` and configured with
//! `ip -batch` under `nsenter`. (A netlink crate would save the
//! processes; `ip` is what slice 2 uses.) A veth pair goes when either
//! end's namespace goes, so a container's end needs no cleanup when the
//! container ends; a disconnect deletes it.

use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NETNS_DIR: &str = "/run/strata/netns";
/// The prefix of a network's namespace file.
const PREFIX: &str = "net-";
/// nsfs's magic number (statfs), which a bound namespace file shows.
const NSFS_MAGIC: i64 = 0x6e73_6673;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {message}")]
    Failed { what: String, message: String },
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
}

/// A container's link to a network, made between the shim's "pid" and
/// the acknowledgement (or on a running container by a connect).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Link {
    /// The network's namespace file.
    pub netns: PathBuf,
    /// Rootless: the user namespace of the network and the container
    /// ([`super::holder`]).
    #[serde(default)]
    pub userns: Option<PathBuf>,
    /// The interface's name inside the container.
    pub ifname: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    /// The container's interface's MAC address (checked by the engine);
    /// empty leaves the kernel's random one.
    #[serde(default)]
    pub mac: String,
}

/// The namespace file of the network whose ID is `id`.
pub fn netns_file(id: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(format!("{PREFIX}{}", &id[..id.len().min(12)]))
}

/// Whether `file` is a bound namespace (not an empty file left by a
/// reboot or a crash between its creation and its bind).
fn is_namespace(file: &Path) -> bool {
    rustix::fs::statfs(file).is_ok_and(|s| s.f_type == NSFS_MAGIC)
}

/// Runs `ip -batch -` with `commands`, under `nsenter` with `enter`'s
/// arguments.
fn ip_batch(enter: &[String], commands: &str, what: &str) -> Result<(), Error> {
    let mut child = Command::new("nsenter")
        .args(enter)
        .args(["ip", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Io {
            what: format!("{what}: running nsenter ip"),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(commands.as_bytes());
    }
    let out = child.wait_with_output().map_err(|source| Error::Io {
        what: what.to_string(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Failed {
        what: what.to_string(),
        message: String::from_utf8_lossy(&out.stderr).trim().replace('\n', "; "),
    })
}

/// Makes the namespace of network `id` with its bridge holding the
/// gateway's address, unless it is there already (a daemon restart).
/// On failure nothing is left.
pub fn ensure(id: &str, gateway: Ipv4Addr, prefix_len: u8) -> Result<PathBuf, Error> {
    use std::os::unix::fs::DirBuilderExt;
    let file = netns_file(id);
    if is_namespace(&file) {
        return Ok(file);
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(NETNS_DIR)
        .map_err(|source| Error::Io {
            what: "creating /run/strata/netns".into(),
            source,
        })?;
    let _ = crate::sys::unmount_lazy(&file);
    std::fs::write(&file, b"").map_err(|source| Error::Io {
        what: "creating the network's namespace file".into(),
        source,
    })?;
    let made = Command::new("unshare")
        .arg(format!("--net={}", file.display()))
        .arg("true")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Io {
            what: "running unshare".into(),
            source,
        })
        .and_then(|out| {
            if out.status.success() {
                Ok(())
            } else {
                Err(Error::Failed {
                    what: "making the network's namespace".into(),
                    message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                })
            }
        });
    let configured = made.and_then(|()| configure(&file, None, gateway, prefix_len));
    if let Err(e) = configured {
        remove(id);
        return Err(e);
    }
    Ok(file)
}

/// `nsenter`'s arguments to enter a network's namespace (and rootless
/// its user namespace).
fn enter(netns: &Path, userns: Option<&Path>) -> Vec<String> {
    let mut args = vec![format!("--net={}", netns.display())];
    if let Some(u) = userns {
        args.insert(0, format!("--user={}", u.display()));
        args.push("--preserve-credentials".into());
    }
    args
}

/// `nsenter`'s arguments to enter the container of init `pid`.
fn enter_container(pid: u32, rootless: bool) -> Vec<String> {
    let mut args = vec!["-t".to_string(), pid.to_string(), "-n".into()];
    if rootless {
        args.extend(["-U".into(), "--preserve-credentials".into()]);
    }
    args
}

/// A network namespace's bridge `br0` with the gateway's address, up.
pub fn configure(netns: &Path, userns: Option<&Path>, gateway: Ipv4Addr, prefix_len: u8) -> Result<(), Error> {
    let commands =
        format!("link set lo up\nlink add br0 type bridge\naddr add {gateway}/{prefix_len} dev br0\nlink set br0 up\n");
    ip_batch(&enter(netns, userns), &commands, "making the network's bridge")
}

/// Removes the namespace of network `id` (its bridge goes with it).
pub fn remove(id: &str) {
    let file = netns_file(id);
    let _ = crate::sys::unmount_lazy(&file);
    let _ = std::fs::remove_file(&file);
}

/// The names of the interfaces in the network namespace of `pid`.
pub fn interfaces(pid: u32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
        .collect()
}

/// The first `ethN` not in the namespace of `pid`.
pub fn free_ifname(pid: u32) -> String {
    let taken = interfaces(pid);
    (0..)
        .map(|n| format!("eth{n}"))
        .find(|n| !taken.contains(n))
        .unwrap_or_default()
}

/// Links the container whose init is `pid` to a network: a veth pair
/// whose bridge end (a random name: a pair of a container just ended
/// may still be going) joins `br0`, and whose other end is `link.ifname`
/// in the container, up, with its address. On failure the pair is gone
/// (deleting either end deletes both).
pub fn attach(pid: u32, link: &Link) -> Result<(), Error> {
    let mut rnd = [0u8; 4];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut rnd))
        .map_err(|source| Error::Io {
            what: "naming a veth".into(),
            source,
        })?;
    let outer: String = std::iter::once("vs".to_string())
        .chain(rnd.iter().map(|b| format!("{b:02x}")))
        .collect();
    let ifname = &link.ifname;
    let address = if link.mac.is_empty() {
        String::new()
    } else {
        format!(" address {}", link.mac)
    };
    let commands =
        format!("link add {outer} type veth peer name {ifname}{address} netns {pid}\nlink set {outer} master br0 up\n");
    ip_batch(
        &enter(&link.netns, link.userns.as_deref()),
        &commands,
        "linking the container to its network",
    )?;
    let commands = format!(
        "link set lo up\naddr add {}/{} dev {ifname}\nlink set {ifname} up\n",
        link.ip, link.prefix_len
    );
    let rootless = link.userns.is_some();
    let inside = ip_batch(
        &enter_container(pid, rootless),
        &commands,
        "configuring the container's interface",
    );
    if inside.is_err() {
        detach(pid, ifname, rootless);
    }
    inside
}

/// Deletes the container's interface `ifname` (and so its pair).
pub fn detach(pid: u32, ifname: &str, rootless: bool) {
    let _ = ip_batch(
        &enter_container(pid, rootless),
        &format!("link del {ifname}\n"),
        "deleting the container's interface",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_files_are_apart_from_containers() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(netns_file(&id), PathBuf::from("/run/strata/netns/net-0123456789ab"));
    }
}
