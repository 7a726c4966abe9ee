//! `update`: new limits for a container (`Memory`, `MemorySwap`,
//! `MemoryReservation`, `NanoCpus`, `CpuShares`, `CpuPeriod`, `CpuQuota`,
//! `CpusetCpus`, `CpusetMems`, `PidsLimit`), checked as at create, written
//! to the running container's cgroups and kept in the record's
//! `HostConfig` (inspect shows them, the next start applies them); and a
//! `RestartPolicy`, kept in the record.

use super::container::Container;
use super::error::Error;
use super::{Engine, resources};
use serde_json::Value;
use std::sync::Arc;

/// The fields an update may set; any other set field is refused.
const UPDATABLE: &[&str] = &[
    "Memory",
    "MemorySwap",
    "MemoryReservation",
    "NanoCpus",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "CpusetCpus",
    "CpusetMems",
    "PidsLimit",
    "RestartPolicy",
];

/// Whether an update's value leaves the field as it is (the docker CLI
/// sends zeros for what it does not change).
fn unchanged(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Object(o) => o.values().all(unchanged),
        Value::Array(a) => a.is_empty(),
        Value::Bool(b) => !b,
    }
}

impl Engine {
    /// Applies `update` (the request body: a `HostConfig` subset) to `c`;
    /// Docker's warnings (none).
    pub async fn update(
        &self,
        c: &Arc<Container>,
        update: serde_json::Map<String, Value>,
    ) -> Result<Vec<String>, Error> {
        let _op = c.ops.lock().await;
        let mut live = c.lock();
        let mut host = live.record.host_config.clone();
        for (name, value) in update {
            if unchanged(&value) {
                continue;
            }
            if !UPDATABLE.contains(&name.as_str()) {
                return Err(Error::invalid(format!(
                    "strata does not support updating {} yet",
                    crate::quote::excerpt(&name, 64)
                )));
            }
            if name == "PidsLimit" && value.as_i64().is_some_and(|n| n < 0) {
                host.extra.insert(name, Value::from(0));
                continue;
            }
            host.extra.insert(name, value);
        }
        // A new memory limit without a swap limit: Docker keeps the swap
        // ratio its create gave (twice the memory) by recomputing it.
        let limits = resources::check(&host)?;
        if let Some(cgroups) = live.run.as_ref().and_then(|r| r.resources.as_ref()) {
            cgroups
                .apply(&limits)
                .map_err(|e| Error::internal(format!("Cannot update container {}: {e}", c.id)))?;
        }
        live.record.host_config = host;
        let rec = live.record.clone();
        drop(live);
        c.save(&rec)
            .map_err(|e| Error::internal(format!("saving the container's record: {e}")))?;
        self.container_event(&rec, "update", &[]);
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_change_nothing() {
        assert!(unchanged(&serde_json::json!(0)));
        assert!(unchanged(&serde_json::json!({"Name": "", "MaximumRetryCount": 0})));
        assert!(!unchanged(&serde_json::json!(67108864)));
        assert!(!unchanged(&serde_json::json!({"Name": "always"})));
    }
}
