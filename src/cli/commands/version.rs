use crate::cli::{Client, Error, write_out};
use crate::wire::{API_VERSION, SystemVersion};
use std::io::Write;

pub async fn run(client: &Client, args: super::FormatArgs, out: &mut impl Write) -> Result<(), Error> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    if args.format.is_some() {
        // docker's Go field names: APIVersion where the JSON says ApiVersion.
        let mut server: serde_json::Value = client.get_json("/version").await?;
        if let Some(m) = server.as_object_mut()
            && let Some(v) = m.remove("ApiVersion")
        {
            m.insert("APIVersion".into(), v);
        }
        let data = serde_json::json!({
            "Client": {
                "Platform": {"Name": ""}, "Version": crate::wire::VERSION, "APIVersion": API_VERSION,
                "DefaultAPIVersion": API_VERSION, "Os": "linux", "Arch": arch, "GoVersion": "", "GitCommit": "",
                "BuildTime": "", "Context": "default",
            },
            "Server": server,
        });
        let text = args.render(&data)?.unwrap_or_default();
        return write_out(out, &text);
    }
    let mut text = format!(
        "Client:\n Version:           {}\n API version:       {API_VERSION}\n OS/Arch:           linux/{arch}\n\n",
        crate::wire::VERSION
    );
    write_out(out, &text)?;
    let v: SystemVersion = client.get_json("/version").await?;
    text = format!(
        "Server: {}\n Engine:\n  Version:          {}\n  API version:      {} (minimum version {})\n  OS/Arch:          {}/{}\n  Kernel Version:   {}\n",
        v.platform.name, v.version, v.api_version, v.min_api_version, v.os, v.arch, v.kernel_version
    );
    write_out(out, &text)
}
