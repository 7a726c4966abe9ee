use crate::cli::format::binary_size;
use crate::cli::{Client, Error, write_out};
use crate::wire::SystemInfo;
use std::io::Write;

pub async fn run(client: &Client, args: super::FormatArgs, out: &mut impl Write) -> Result<(), Error> {
    if args.format.is_some() {
        let mut data: serde_json::Value = client.get_json("/info").await?;
        if let Some(m) = data.as_object_mut() {
            let client_info =
                serde_json::json!({"Version": crate::wire::VERSION, "Context": "default", "Debug": false});
            m.insert("ClientInfo".into(), client_info);
        }
        let text = args.render(&data)?.unwrap_or_default();
        return write_out(out, &text);
    }
    let i: SystemInfo = client.get_json("/info").await?;
    let mut s = format!("Client:\n Version:    {}\n\nServer:\n", crate::wire::VERSION);
    s += &format!(" Containers: {}\n", i.containers);
    s += &format!(
        "  Running: {}\n  Paused: {}\n  Stopped: {}\n",
        i.containers_running, i.containers_paused, i.containers_stopped
    );
    s += &format!(" Images: {}\n", i.images);
    s += &format!(" Server Version: {}\n", i.server_version);
    s += &format!(" Storage Driver: {}\n", i.driver);
    for [k, v] in &i.driver_status {
        s += &format!("  {k}: {v}\n");
    }
    s += &format!(" Kernel Version: {}\n", i.kernel_version);
    s += &format!(" Operating System: {}\n", i.operating_system);
    s += &format!(" OSType: {}\n", i.os_type);
    s += &format!(" Architecture: {}\n", i.architecture);
    s += &format!(" CPUs: {}\n", i.ncpu);
    s += &format!(" Total Memory: {}\n", binary_size(i.mem_total));
    s += &format!(" Name: {}\n", i.name);
    s += &format!(" ID: {}\n", i.id);
    s += &format!(" Docker Root Dir: {}\n", i.docker_root_dir);
    for w in &i.warnings {
        s += &format!("WARNING: {w}\n");
    }
    write_out(out, &s)
}
