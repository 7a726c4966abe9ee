use crate::cli::{Client, Error, write_out};
use crate::wire::{API_VERSION, SystemVersion};
use std::io::Write;

pub async fn run(client: &Client, out: &mut impl Write) -> Result<(), Error> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
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
