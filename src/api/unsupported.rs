//! What a create or exec request may ask for: every field the docker CLI
//! (28) can send is either honoured or, when set to anything but its
//! default, refused with a 400 naming the option — never silently ignored.
//! The tables below are the single source of the README's table of fields
//! (a test keeps the two in step).

use crate::engine::Error;
use crate::quote::excerpt;
use crate::wire::{ContainerCreateRequest, ExecConfig};
use serde_json::Value;

/// How a field of the request is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Applied, whatever its value.
    Honoured,
    /// Kept in the record and shown by inspect; it changes nothing at run
    /// time, in Docker either (`EXPOSE`, annotations, the client's own
    /// `--cidfile`).
    Recorded,
    /// Refused unless unset (null, false, 0, "", [] or {}, or the default
    /// Docker documents for it).
    Refused,
    /// Some values are honoured: see `check_special`.
    Partly,
}

/// A field: its JSON name, the docker CLI flag that sets it, its rule.
pub struct Field {
    pub name: &'static str,
    pub flag: &'static str,
    pub rule: Rule,
}

const fn f(name: &'static str, flag: &'static str, rule: Rule) -> Field {
    Field { name, flag, rule }
}

use Rule::{Honoured, Partly, Recorded, Refused};

/// The container's `Config` (the body's top level).
pub const CONFIG_FIELDS: &[Field] = &[
    f("Hostname", "--hostname", Honoured),
    f("Domainname", "--domainname", Honoured),
    f("User", "--user", Honoured),
    f("AttachStdin", "--attach / -i", Honoured),
    f("AttachStdout", "--attach", Honoured),
    f("AttachStderr", "--attach", Honoured),
    f("Tty", "--tty", Honoured),
    f("OpenStdin", "--interactive", Honoured),
    f("StdinOnce", "--interactive", Honoured),
    f("Env", "--env", Honoured),
    f("Cmd", "COMMAND", Honoured),
    f("Image", "IMAGE", Honoured),
    f("WorkingDir", "--workdir", Honoured),
    f("Entrypoint", "--entrypoint", Honoured),
    f("Labels", "--label", Honoured),
    f("StopSignal", "--stop-signal", Honoured),
    f("StopTimeout", "--stop-timeout", Honoured),
    f("ExposedPorts", "--expose", Recorded),
    f("Volumes", "--volume (anonymous)", Honoured),
    f("Healthcheck", "--health-cmd", Partly),
    f("OnBuild", "ONBUILD", Refused),
    f("Shell", "SHELL", Recorded),
    f("ArgsEscaped", "(Windows)", Refused),
    f("NetworkDisabled", "--network none", Refused),
    f("MacAddress", "--mac-address", Honoured),
    f(
        "NetworkingConfig",
        "--ip, --ip6, --mac-address, --link (of --network)",
        Partly,
    ),
    f("HostConfig", "", Honoured),
];

/// `HostConfig`.
pub const HOST_CONFIG_FIELDS: &[Field] = &[
    f("NetworkMode", "--network", Partly),
    f("AutoRemove", "--rm", Honoured),
    f("ConsoleSize", "--tty", Honoured),
    f("RestartPolicy", "--restart", Honoured),
    f("Privileged", "--privileged", Honoured),
    f("SecurityOpt", "--security-opt", Partly),
    f("LogConfig", "--log-driver, --log-opt", Partly),
    f("IpcMode", "--ipc", Partly),
    f("CgroupnsMode", "--cgroupns", Partly),
    f("UsernsMode", "--userns", Partly),
    f("Isolation", "--isolation", Partly),
    f("MemorySwappiness", "--memory-swappiness", Partly),
    f("PidsLimit", "--pids-limit", Honoured),
    f("ContainerIDFile", "--cidfile", Recorded),
    f("Annotations", "--annotation", Recorded),
    f("Binds", "--volume", Honoured),
    f("Mounts", "--mount", Honoured),
    f("Tmpfs", "--tmpfs", Honoured),
    f("VolumeDriver", "--volume-driver", Partly),
    f("VolumesFrom", "--volumes-from", Honoured),
    f("PortBindings", "--publish", Honoured),
    f("PublishAllPorts", "--publish-all", Honoured),
    f("Links", "--link", Honoured),
    f("Dns", "--dns", Honoured),
    f("DnsOptions", "--dns-option", Honoured),
    f("DnsSearch", "--dns-search", Honoured),
    f("ExtraHosts", "--add-host", Honoured),
    f("ReadonlyRootfs", "--read-only", Honoured),
    f("CapAdd", "--cap-add", Honoured),
    f("CapDrop", "--cap-drop", Honoured),
    f("GroupAdd", "--group-add", Honoured),
    f("Devices", "--device", Honoured),
    f("DeviceCgroupRules", "--device-cgroup-rule", Refused),
    f("DeviceRequests", "--gpus", Refused),
    f("Ulimits", "--ulimit", Honoured),
    f("Sysctls", "--sysctl", Refused),
    f("PidMode", "--pid", Refused),
    f("UTSMode", "--uts", Refused),
    f("Cgroup", "--cgroup", Refused),
    f("CgroupParent", "--cgroup-parent", Refused),
    f("OomKillDisable", "--oom-kill-disable", Refused),
    f("OomScoreAdj", "--oom-score-adj", Honoured),
    f("Runtime", "--runtime", Refused),
    f("Init", "--init", Honoured),
    f("ShmSize", "--shm-size", Refused),
    f("StorageOpt", "--storage-opt", Refused),
    f("Memory", "--memory", Honoured),
    f("MemoryReservation", "--memory-reservation", Honoured),
    f("MemorySwap", "--memory-swap", Honoured),
    f("KernelMemory", "--kernel-memory", Refused),
    f("KernelMemoryTCP", "(API only)", Refused),
    f("NanoCpus", "--cpus", Honoured),
    f("CpuShares", "--cpu-shares", Honoured),
    f("CpuPeriod", "--cpu-period", Honoured),
    f("CpuQuota", "--cpu-quota", Honoured),
    f("CpuRealtimePeriod", "--cpu-rt-period", Refused),
    f("CpuRealtimeRuntime", "--cpu-rt-runtime", Refused),
    f("CpusetCpus", "--cpuset-cpus", Honoured),
    f("CpusetMems", "--cpuset-mems", Honoured),
    f("CpuCount", "--cpu-count (Windows)", Refused),
    f("CpuPercent", "--cpu-percent (Windows)", Refused),
    f("BlkioWeight", "--blkio-weight", Refused),
    f("BlkioWeightDevice", "--blkio-weight-device", Refused),
    f("BlkioDeviceReadBps", "--device-read-bps", Refused),
    f("BlkioDeviceWriteBps", "--device-write-bps", Refused),
    f("BlkioDeviceReadIOps", "--device-read-iops", Refused),
    f("BlkioDeviceWriteIOps", "--device-write-iops", Refused),
    f("IOMaximumIOps", "--io-maxiops (Windows)", Refused),
    f("IOMaximumBandwidth", "--io-maxbandwidth (Windows)", Refused),
    f("MaskedPaths", "(API only)", Refused),
    f("ReadonlyPaths", "(API only)", Refused),
];

/// The body of `POST /containers/{id}/exec`.
pub const EXEC_FIELDS: &[Field] = &[
    f("AttachStdin", "--interactive", Honoured),
    f("AttachStdout", "", Honoured),
    f("AttachStderr", "", Honoured),
    f("Tty", "--tty", Honoured),
    f("ConsoleSize", "--tty", Honoured),
    f("Cmd", "COMMAND", Honoured),
    f("Env", "--env", Honoured),
    f("User", "--user", Honoured),
    f("WorkingDir", "--workdir", Honoured),
    f("Detach", "--detach", Honoured),
    f("Privileged", "--privileged", Honoured),
    f("DetachKeys", "--detach-keys", Refused),
];

/// null, false, 0, "", [] and {}. (A map's keys are what it asks for:
/// `{"/t": ""}` is a tmpfs.)
fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// `is_unset`, or a structure of nothing but unset values, however deep.
fn is_blank(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.values().all(is_blank),
        other => is_unset(other),
    }
}

fn not_yet(flag: &str, section: &str, name: &str) -> Error {
    let flag = if flag.is_empty() { name } else { flag };
    Error::invalid(format!(
        "strata does not support {flag} ({section}{name}) yet: remove it from the command"
    ))
}

/// Whether a `Partly` field's value is one this daemon honours.
fn special_ok(name: &str, v: &Value, rootless: bool) -> bool {
    let s = v.as_str().unwrap_or("");
    match name {
        // Checked with the other network modes when the record is made.
        "NetworkMode" => true,
        "LogConfig" => {
            v.is_null()
                || (matches!(v.get("Type").and_then(Value::as_str), None | Some("" | "json-file"))
                    && v.get("Config").is_none_or(is_unset)
                    && v.as_object()
                        .is_some_and(|o| o.keys().all(|k| k == "Type" || k == "Config")))
        }
        // A container always has an IPC namespace of its own.
        "IpcMode" => matches!(s, "" | "private" | "shareable"),
        // No cgroup namespace is made: the host's, Docker's default on cgroup v1.
        "CgroupnsMode" => matches!(s, "" | "host"),
        // A root daemon remaps no ids: `host` is what it does anyway.
        "UsernsMode" => s.is_empty() || (s == "host" && !rootless),
        "Isolation" => matches!(s, "" | "default"),
        "MemorySwappiness" => v.is_null() || v.as_i64() == Some(-1),
        // Disabling a check the image may define: there are none to run.
        "Healthcheck" => {
            is_unset(v)
                || v.get("Test")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.len() == 1 && t[0] == "NONE" && v.as_object().is_some_and(|o| o.len() == 1))
        }
        // Only the endpoint the CLI always sends for the default network,
        // with nothing asked of it, and the `Aliases`, `IPAMConfig`,
        // `MacAddress` and `Links` the engine reads and checks.
        "NetworkingConfig" => v
            .get("EndpointsConfig")
            .and_then(Value::as_object)
            .map_or(is_blank(v), |eps| {
                eps.values().all(|ep| match ep {
                    Value::Object(o) => o.iter().all(|(k, x)| {
                        matches!(
                            k.as_str(),
                            "Aliases" | "DNSNames" | "IPAMConfig" | "MacAddress" | "Links"
                        ) || is_blank(x)
                    }),
                    other => is_blank(other),
                })
            }),
        "SecurityOpt" => true,
        "VolumeDriver" => matches!(s, "" | "local"),
        _ => false,
    }
}

/// `--security-opt` entries other than seccomp's and
/// `no-new-privileges`'s (which the engine parses): refused.
fn check_security_opts(v: &Value) -> Result<(), Error> {
    let Some(list) = v.as_array() else {
        return if v.is_null() {
            Ok(())
        } else {
            Err(Error::invalid("HostConfig.SecurityOpt must be a list of strings"))
        };
    };
    for entry in list {
        let entry = entry
            .as_str()
            .ok_or_else(|| Error::invalid("HostConfig.SecurityOpt must be a list of strings"))?;
        let (key, value) = entry
            .split_once(['=', ':'])
            .map_or((entry, None), |(k, v)| (k, Some(v)));
        match (key, value) {
            ("seccomp", _) => {}
            ("no-new-privileges", _) => {}
            _ => {
                return Err(Error::invalid(format!(
                    "strata does not support --security-opt {} yet",
                    excerpt(key, 64)
                )));
            }
        }
    }
    Ok(())
}

/// Checks the fields of one object (`section` names it in messages)
/// against `fields`; a field that is not in the table is refused when set.
fn check_object(
    object: &serde_json::Map<String, Value>,
    fields: &[Field],
    section: &str,
    rootless: bool,
) -> Result<(), Error> {
    for (name, value) in object {
        match fields.iter().find(|f| f.name == name) {
            Some(Field {
                rule: Honoured | Recorded,
                ..
            }) => {}
            Some(field @ Field { rule: Partly, .. }) => {
                if name == "SecurityOpt" {
                    check_security_opts(value)?;
                } else if !special_ok(name, value, rootless) {
                    return Err(not_yet(field.flag, section, name));
                }
            }
            Some(field @ Field { rule: Refused, .. }) => {
                if !is_unset(value) {
                    return Err(not_yet(field.flag, section, name));
                }
            }
            None => {
                if !is_unset(value) {
                    return Err(Error::invalid(format!(
                        "strata does not know the field {section}{} and does not apply it: remove it",
                        excerpt(name, 64)
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Refuses a create request that asks for anything this daemon would not
/// apply (`rootless`: the daemon runs without root).
pub fn check_create(req: &ContainerCreateRequest, rootless: bool) -> Result<(), Error> {
    let body = serde_json::to_value(req).map_err(|e| Error::internal(e.to_string()))?;
    let Value::Object(mut top) = body else {
        return Err(Error::internal("a create request that is not an object"));
    };
    let host = top.remove("HostConfig");
    check_object(&top, CONFIG_FIELDS, "", rootless)?;
    if let Some(Value::Object(host)) = host {
        check_object(&host, HOST_CONFIG_FIELDS, "HostConfig.", rootless)?;
    }
    Ok(())
}

/// Refuses an exec request that asks for anything this daemon would not
/// apply.
pub fn check_exec(config: &ExecConfig) -> Result<(), Error> {
    let Value::Object(body) = serde_json::to_value(config).map_err(|e| Error::internal(e.to_string()))? else {
        return Err(Error::internal("an exec request that is not an object"));
    };
    check_object(&body, EXEC_FIELDS, "", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: &str) -> Result<(), Error> {
        let req: ContainerCreateRequest = serde_json::from_str(json).unwrap();
        check_create(&req, false)
    }

    /// What `docker run busybox true` (CLI 28.2) sends.
    const PLAIN_RUN: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,
        "AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["true"],
        "Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},
        "HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default",
        "PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"",
        "VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],
        "DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,
        "OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,
        "SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,
        "NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],
        "BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,
        "CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],
        "DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,
        "OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,
        "IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},
        "NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,
        "MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"",
        "IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,
        "DNSNames":null}}}}"#;

    fn with_host(key: &str, value: &str) -> String {
        let mut body: Value = serde_json::from_str(PLAIN_RUN).unwrap();
        body["HostConfig"][key] = serde_json::from_str(value).unwrap();
        body.to_string()
    }

    #[test]
    fn what_the_cli_sends_by_default_is_accepted() {
        create(PLAIN_RUN).unwrap();
        create("{}").unwrap();
        create(r#"{"ExposedPorts":{"80/tcp":{}},"Healthcheck":{"Test":["NONE"]}}"#).unwrap();
        create(&with_host(
            "SecurityOpt",
            r#"["no-new-privileges","seccomp=unconfined"]"#,
        ))
        .unwrap();
        create(&with_host("IpcMode", r#""private""#)).unwrap();
        create(&with_host("SecurityOpt", r#"["no-new-privileges=false"]"#)).unwrap();
        create(&with_host("Privileged", "true")).unwrap();
        create(&with_host("CapAdd", r#"["CAP_NET_ADMIN"]"#)).unwrap();
        create(&with_host("CapDrop", r#"["ALL"]"#)).unwrap();
        create(&with_host("Ulimits", r#"[{"Name":"nofile","Hard":10,"Soft":10}]"#)).unwrap();
        create(&with_host("Devices", r#"[{"PathOnHost":"/dev/null"}]"#)).unwrap();
        create(&with_host("GroupAdd", r#"["10"]"#)).unwrap();
        create(&with_host("OomScoreAdj", "100")).unwrap();
        create(&with_host("UsernsMode", r#""host""#)).unwrap();
        create(&with_host("ReadonlyRootfs", "true")).unwrap();
        create(&with_host("Binds", r#"["/tmp:/x:ro"]"#)).unwrap();
        create(&with_host("Tmpfs", r#"{"/t":""}"#)).unwrap();
        create(&with_host("VolumeDriver", r#""local""#)).unwrap();
        create(&with_host(
            "PortBindings",
            r#"{"80/tcp":[{"HostIp":"","HostPort":"8080"}]}"#,
        ))
        .unwrap();
        create(&with_host("PublishAllPorts", "true")).unwrap();
        create(&with_host("Links", r#"["web:w"]"#)).unwrap();
    }

    #[test]
    fn each_refused_option_is_named() {
        let cases = [
            ("VolumeDriver", r#""nfs""#, "--volume-driver"),
            ("PidMode", r#""host""#, "--pid"),
            ("IpcMode", r#""host""#, "--ipc"),
            ("UTSMode", r#""host""#, "--uts"),
            ("Sysctls", r#"{"net.ipv4.ip_forward":"1"}"#, "--sysctl"),
            ("CgroupParent", r#""x""#, "--cgroup-parent"),
            ("OomKillDisable", "true", "--oom-kill-disable"),
            ("Runtime", r#""runc""#, "--runtime"),
            ("LogConfig", r#"{"Type":"none"}"#, "--log-driver"),
            ("MemorySwappiness", "10", "--memory-swappiness"),
            ("SecurityOpt", r#"["apparmor=x"]"#, "--security-opt apparmor"),
        ];
        for (key, value, flag) in cases {
            let e = create(&with_host(key, value)).expect_err(key);
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert!(e.to_string().contains(flag), "{key}: {}", e);
        }
        let e = create(r#"{"Healthcheck":{"Test":["CMD-SHELL","true"]}}"#).unwrap_err();
        assert!(e.to_string().contains("--health-cmd"), "{}", e);
        create(r#"{"Volumes":{"/data":{}}}"#).unwrap();
        create(r#"{"NetworkingConfig":{"EndpointsConfig":{"default":{"MacAddress":"02:42:ac:11:00:02"}}}}"#).unwrap();
        create(r#"{"MacAddress":"02:42:ac:11:00:02"}"#).unwrap();
        let e = create(r#"{"NetworkingConfig":{"EndpointsConfig":{"default":{"DriverOpts":{"a":"b"}}}}}"#).unwrap_err();
        assert!(e.to_string().contains("NetworkingConfig"), "{}", e);
        // A rootless daemon always maps ids.
        let req: ContainerCreateRequest = serde_json::from_str(&with_host("UsernsMode", r#""host""#)).unwrap();
        assert!(check_create(&req, true).is_err());
    }

    #[test]
    fn unknown_fields_are_refused_when_set_and_quoted_briefly() {
        create(r#"{"FutureThing":null}"#).unwrap();
        let long = "X".repeat(10_000);
        let e = create(&format!(r#"{{"{long}":1}}"#)).unwrap_err();
        assert!(e.to_string().len() < 300, "{}", e.to_string().len());
        let e = create(&with_host("Unheard", "true")).unwrap_err();
        assert!(e.to_string().contains("HostConfig.Unheard"), "{}", e);
    }

    #[test]
    fn exec_options() {
        let exec = |json: &str| check_exec(&serde_json::from_str::<ExecConfig>(json).unwrap());
        exec(r#"{"AttachStdout":true,"Cmd":["ls"],"Privileged":false,"DetachKeys":""}"#).unwrap();
        exec(r#"{"Cmd":["ls"],"Privileged":true}"#).unwrap();
        assert!(exec(r#"{"Cmd":["ls"],"DetachKeys":"ctrl-x"}"#).is_err());
    }

    use proptest::prelude::*;

    /// JSON values whose keys are often the fields of the tables.
    fn json_value() -> impl Strategy<Value = Value> {
        let names: Vec<&'static str> = CONFIG_FIELDS
            .iter()
            .chain(HOST_CONFIG_FIELDS)
            .map(|f| f.name)
            .chain(["Name", "Type", "Config", "Test", "EndpointsConfig", "x"])
            .collect();
        let key = prop_oneof![
            proptest::sample::select(names).prop_map(str::to_string),
            "[A-Za-z]{0,6}"
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(key.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever decodes as a request is checked without a panic, and a
        /// request that passes sets no refused field.
        #[test]
        fn any_request_is_checked_cleanly(body in json_value(), host in json_value(), rootless in any::<bool>()) {
            let mut body = body;
            if let Value::Object(m) = &mut body {
                m.insert("HostConfig".into(), host);
            }
            if let Ok(req) = serde_json::from_value::<ContainerCreateRequest>(body)
                && check_create(&req, rootless).is_ok()
            {
                let v = serde_json::to_value(&req).unwrap();
                for f in HOST_CONFIG_FIELDS.iter().filter(|f| f.rule == Refused) {
                    prop_assert!(v["HostConfig"].get(f.name).is_none_or(is_unset), "{} passed", f.name);
                }
            }
        }

        #[test]
        fn any_exec_is_checked_cleanly(body in json_value()) {
            if let Ok(config) = serde_json::from_value::<ExecConfig>(body) {
                let _ = check_exec(&config);
            }
        }
    }

    #[test]
    fn the_readme_lists_every_field() {
        let readme = include_str!("../../README.md");
        for field in CONFIG_FIELDS.iter().chain(HOST_CONFIG_FIELDS).chain(EXEC_FIELDS) {
            assert!(
                readme.contains(&format!("`{}`", field.name)),
                "README.md's table of fields lacks `{}`",
                field.name
            );
        }
    }
}
