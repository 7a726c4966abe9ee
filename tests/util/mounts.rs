//! Mounts the tests make: `stratafs` over fresh directories, loop-mounted XFS stores, a small tmpfs.

use super::{Daemon, STRATAFS};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A small tmpfs mounted at a daemon's (not yet made) root, lazily
/// unmounted on drop: a store whose disk fills up.
pub struct SmallDisk(PathBuf);

impl SmallDisk {
    pub fn mount(d: &Daemon, size: &str) -> SmallDisk {
        std::fs::create_dir(&d.root).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&d.root)
            .status()
            .unwrap();
        assert!(mounted.success(), "mount tmpfs");
        SmallDisk(d.root.clone())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A `stratafs` mount over fresh directories, unmounted on drop.
pub struct Mount {
    pub dir: tempfile::TempDir,
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub mnt: PathBuf,
    pub options: String,
    mounted: bool,
}

impl Mount {
    /// Directories for `n` lower layers (l0 is the topmost), an upper, a
    /// work directory and a mountpoint; nothing mounted yet.
    pub fn prepare(n: usize) -> Mount {
        let dir = tempfile::tempdir().expect("tempdir");
        let lowers: Vec<PathBuf> = (0..n).map(|i| dir.path().join(format!("l{i}"))).collect();
        for l in &lowers {
            std::fs::create_dir(l).expect("lower");
        }
        let (upper, work, mnt) = (
            dir.path().join("upper"),
            dir.path().join("work"),
            dir.path().join("mnt"),
        );
        for d in [&upper, &work, &mnt] {
            std::fs::create_dir(d).expect("dir");
        }
        Mount {
            dir,
            lowers,
            upper,
            work,
            mnt,
            options: String::new(),
            mounted: false,
        }
    }

    pub fn lowerdir(&self) -> String {
        self.lowers
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Mounts with an upper layer (the usual case); panics on failure.
    pub fn mount(&mut self) {
        let out = self.try_mount(true);
        assert!(
            out.status.success(),
            "stratafs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.mounted = true;
    }

    pub fn mount_read_only(&mut self) {
        let out = self.try_mount(false);
        assert!(
            out.status.success(),
            "stratafs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.mounted = true;
    }

    pub fn try_mount(&self, with_upper: bool) -> Output {
        let mut opts = format!("lowerdir={}", self.lowerdir());
        if with_upper {
            opts += &format!(",upperdir={},workdir={}", self.upper.display(), self.work.display());
        }
        if !self.options.is_empty() {
            opts += ",";
            opts += &self.options;
        }
        Command::new(STRATAFS)
            .arg("-o")
            .arg(opts)
            .arg(&self.mnt)
            .stdin(Stdio::null())
            .output()
            .expect("run stratafs")
    }

    pub fn unmount(&mut self) {
        if self.mounted {
            let ok = Command::new("umount")
                .arg(&self.mnt)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
            }
            self.mounted = false;
        }
    }

    pub fn m(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// A filesystem image of its own, loop-mounted for a test and unmounted
/// (and its image removed) on drop, also when the test panics.
pub struct LoopFs {
    dir: tempfile::TempDir,
    pub mnt: PathBuf,
    mounted: bool,
}

impl LoopFs {
    /// A fresh XFS of `size` bytes (a sparse image; mkfs.xfs wants at least
    /// 300 MiB), with or without reflink, mounted with `options` besides
    /// `loop`. `Err` says why it cannot be made here (no mkfs.xfs, no loop
    /// devices, not root): the caller skips.
    pub fn xfs(size: u64, reflink: bool, options: &str) -> Result<LoopFs, String> {
        if !rustix::process::geteuid().is_root() {
            return Err("loop mounts need root".into());
        }
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let img = dir.path().join("fs.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).map_err(|e| format!("mkdir: {e}"))?;
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(size))
            .map_err(|e| format!("image: {e}"))?;
        let reflink = format!("reflink={}", u8::from(reflink));
        let mkfs = Command::new("mkfs.xfs")
            .args(["-q", "-f", "-m", &reflink])
            .arg(&img)
            .output();
        match mkfs {
            Err(e) => return Err(format!("mkfs.xfs not runnable ({e}; apt-get install xfsprogs)")),
            Ok(o) if !o.status.success() => {
                return Err(format!(
                    "mkfs.xfs -m {reflink} failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Ok(_) => {}
        }
        let options = if options.is_empty() {
            "loop".to_string()
        } else {
            format!("loop,{options}")
        };
        let out = Command::new("mount")
            .args(["-t", "xfs", "-o", &options])
            .arg(&img)
            .arg(&mnt)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot loop-mount an XFS image: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(LoopFs {
            dir,
            mnt,
            mounted: true,
        })
    }

    /// Bytes in use on the filesystem (after flushing it): blocks - free.
    pub fn used_bytes(&self) -> u64 {
        let f = std::fs::File::open(&self.mnt).expect("open loop mount");
        rustix::fs::syncfs(&f).expect("syncfs");
        let st = rustix::fs::fstatvfs(&f).expect("statvfs");
        (st.f_blocks - st.f_bfree) * st.f_frsize
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if !self.mounted {
            return;
        }
        // A FUSE server that was using the filesystem may take a moment to
        // exit after its own unmount; then detach lazily as a last resort
        // (the loop device goes once the last user does).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if Command::new("umount")
                .arg(&self.mnt)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
            {
                break;
            }
            if Instant::now() > deadline {
                let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.mounted = false;
    }
}
