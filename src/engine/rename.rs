//! `rename`: a container's name changed, running or not, as Docker does.

use super::error::{Error, internal};
use super::{Container, Engine, record};
use std::sync::Arc;

impl Engine {
    /// Renames `c` to `new`. The containers' map is held throughout, so no
    /// create (which takes names under it) can take `new` meanwhile.
    pub fn rename(&self, c: &Arc<Container>, new: &str) -> Result<(), Error> {
        if new.is_empty() {
            return Err(Error::invalid("Neither old nor new names may be empty"));
        }
        let new = record::validate_name(new)?.to_string();
        let map = self.map();
        if c.lock().removed {
            return Err(Error::not_found(format!("No such container: {}", c.id)));
        }
        // Each other container is locked alone, never beside `c`.
        for other in map.values().filter(|o| !Arc::ptr_eq(o, c)) {
            if other.lock().record.name == new {
                return Err(Error::conflict(format!(
                    "Conflict. The container name \"/{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    other.id
                )));
            }
        }
        let mut live = c.lock();
        if live.record.name == new {
            return Err(Error::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        let mut record = live.record.clone();
        let old = std::mem::replace(&mut record.name, new);
        // Written first: the name in memory is the one on disk.
        c.save(&record).map_err(internal("saving the container"))?;
        tracing::info!(container = %&c.id[..12], from = %old, to = %record.name, "renamed");
        live.record = record.clone();
        drop(live);
        self.container_event(&record, "rename", &[("oldName", old)]);
        Ok(())
    }
}
