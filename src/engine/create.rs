//! `create`: a request and an image become a container's record and its
//! directory (made in `.new-<id>` and renamed into place).

use super::container::{write_record, write_record_unsynced};
use super::error::{Error, internal};
use super::record::{self, Record};
use super::spec::{Config, HostSettings};
use super::status::State;
use super::{Container, Engine, mounts, names, now_rfc3339, privileges, random_id, resources, security};
use crate::run::NetworkMode;
use crate::sys;
use std::io;
use std::sync::Arc;

/// The network a container's mode asks for. A bridge's ports and run
/// directory are filled in at start.
pub(super) fn network_mode(mode: &str) -> Result<NetworkMode, Error> {
    match mode {
        "" | "default" | "bridge" => Ok(NetworkMode::Bridge(crate::run::network::Bridge {
            ports: Vec::new(),
            dir: Default::default(),
            links: Vec::new(),
            internal: false,
            userns: None,
            map_gw: false,
            mac: String::new(),
            netns: None,
        })),
        "host" => Ok(NetworkMode::Host),
        "none" => Ok(NetworkMode::None),
        // The other container's pid is known at the start.
        other if other.starts_with("container:") => {
            if other.len() == "container:".len() {
                return Err(Error::invalid(format!("invalid network mode: {other}")));
            }
            Ok(NetworkMode::Container(0))
        }
        // A user-defined network (checked by the caller): pasta for the
        // outside, and a link to the network's bridge.
        _ => network_mode("bridge"),
    }
}

/// Docker's conflicts of `--network container:NAME`: the names, the
/// resolver and the ports are the other container's.
fn check_container_mode(config: &Config, host: &HostSettings) -> Result<(), Error> {
    if !host.network_mode.starts_with("container:") {
        return Ok(());
    }
    let set = |v: Option<&serde_json::Value>| {
        v.is_some_and(|v| match v {
            serde_json::Value::Array(a) => !a.is_empty(),
            serde_json::Value::Object(o) => !o.is_empty(),
            serde_json::Value::Bool(b) => *b,
            _ => false,
        })
    };
    let conflict = if !config.hostname.is_empty() {
        Some("hostname and the network mode")
    } else if set(host.extra.get("Dns")) || set(host.extra.get("DnsSearch")) || set(host.extra.get("DnsOptions")) {
        Some("dns and the network mode")
    } else if set(host.extra.get("ExtraHosts")) {
        Some("custom host-to-IP mapping and the network mode")
    } else if set(host.extra.get("PortBindings")) || set(host.extra.get("PublishAllPorts")) {
        Some("port publishing and the container type network mode")
    } else {
        None
    };
    match conflict {
        Some(what) => Err(Error::invalid(format!("conflicting options: {what}"))),
        None => Ok(()),
    }
}

impl Engine {
    /// A new container named `name` (or a generated name) that runs
    /// `config` on its image as `host_config` says. `request_checked` is
    /// the caller's verdict on the request's fields the engine never sees
    /// (the api's refusals): reported after the name's error and before
    /// the others, so a request wrong in two ways gets the same error as
    /// when the engine checked everything.
    pub fn create(
        &self,
        name: Option<&str>,
        mut config: Config,
        host_config: HostSettings,
        request_checked: Result<(), Error>,
    ) -> Result<Arc<Container>, Error> {
        let name = name.filter(|n| !n.is_empty()).map(record::validate_name).transpose()?;
        request_checked?;
        record::validate_user(&config.user)?;
        network_mode(&host_config.network_mode)?;
        super::dns::check(&host_config)?;
        check_container_mode(&config, &host_config)?;
        super::mac::requested(&config, &host_config)?;
        self.check_links(&config, &host_config)?;
        let networks = self.create_attachments(&config, &host_config, false)?;
        let settings = privileges::settings(&host_config)?;
        security::seccomp_program_for(&host_config, &settings.privileges)?;
        resources::check(&host_config)?;
        super::restart::validate(&host_config)?;
        if config.image.is_empty() {
            return Err(Error::invalid("no image given"));
        }
        let image = self.store.image(&config.image)?;
        let image_volumes: Vec<String> = image
            .config
            .config
            .volumes
            .iter()
            .flat_map(|v| v.keys().cloned())
            .collect();
        let mut mounts = mounts::parse(&config, &host_config, &image_volumes)?;
        for (from, readonly) in mounts::volumes_from(&host_config)? {
            let other = self.get(&from)?.record();
            mounts::add_from(&mut mounts, &other.mounts, readonly);
        }
        for m in mounts.iter().filter(|m| m.kind == mounts::MountType::Bind) {
            if !std::path::Path::new(&m.source).exists() {
                return Err(mounts::missing_source(&m.source));
            }
        }
        let (merged, path, args) = record::merge_image(std::mem::take(&mut config), &image.config)?;
        let mut config = merged;
        super::ports::bindings(&config, &host_config)?;
        let id = random_id().map_err(internal("making an ID"))?;
        if config.hostname.is_empty() {
            config.hostname = id[..12].to_string();
        }
        let mut map = self.map();
        let name = match name {
            Some(n) => {
                if let Some(other) = map.values().find(|c| c.lock().record.name == n) {
                    return Err(Error::conflict(format!(
                        "Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                        other.id
                    )));
                }
                n.to_string()
            }
            None => {
                let taken: Vec<String> = map.values().map(|c| c.lock().record.name.clone()).collect();
                names::generate(&id, |n| taken.iter().any(|t| t == n))
            }
        };
        let record = Record {
            id: id.clone(),
            name,
            created: now_rfc3339(),
            image: image.id,
            path,
            args,
            config,
            host_config,
            state: State::created(),
            restart_count: 0,
            manually_stopped: false,
            mounts: Vec::new(),
            endpoint: None,
            networks,
        };
        let mut record = record;
        self.make_volumes(&mut mounts)?;
        record.mounts = mounts;
        let staging = self.dir.join(format!(".new-{id}"));
        let made = (|| -> io::Result<()> {
            std::fs::create_dir(&staging)?;
            sys::make_private(&staging)?;
            for sub in ["upper", "work", "merged"] {
                std::fs::create_dir(staging.join(sub))?;
            }
            if record.host_config.auto_remove {
                // A `--rm` container's record is written without the three
                // fsyncs (3.5 ms of the create under strace here; what they
                // cost is the disk's): it lives for one run, and if
                // power is lost before its data reaches the disk, the next
                // start finds an unreadable record over an empty writable
                // layer and removes it (see `Engine::open`). A daemon's
                // crash loses nothing: the page cache outlives it.
                write_record_unsynced(&staging, &record)?;
                return std::fs::rename(&staging, self.dir.join(&id));
            }
            write_record(&staging, &record)?;
            std::fs::rename(&staging, self.dir.join(&id))?;
            sys::fsync_dir(&self.dir)
        })();
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(internal("creating the container")(e));
        }
        let c = Container::new(self.dir.join(&id), record);
        map.insert(id, c.clone());
        drop(map);
        self.event_of(&c, "create", &[]);
        Ok(c)
    }
}
