//! `strata login` and `strata logout`: the daemon checks the credentials
//! (`POST /auth`), the client keeps them in its own file
//! ([`crate::cli::credentials`]). Docker's flags, prompts and messages.

use crate::cli::credentials::{self, CredentialStore, HUB_ADDRESS, HUB_KEY};
use crate::cli::{Client, Error, read_stdin_line, write_out};
use crate::wire::{AuthConfig, AuthResponse};
use std::io::{Read, Write};
use std::os::fd::AsFd;

#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    username: Option<String>,
    /// Password (insecure: it stays in the shell's history)
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    password_stdin: bool,
    /// The registry (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    server: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub)
    #[arg(value_name = "SERVER")]
    server: Option<String>,
}

/// The address sent to the daemon, and the key in the credentials file.
fn server(arg: Option<&str>) -> (String, String) {
    match arg.filter(|s| !s.is_empty() && *s != HUB_KEY) {
        Some(s) => (s.to_string(), credentials::server_key(s)),
        None => (HUB_ADDRESS.to_string(), HUB_KEY.to_string()),
    }
}

fn open_store() -> Result<CredentialStore, Error> {
    credentials::default_path()
        .and_then(CredentialStore::open)
        .map_err(|e| Error::Usage(e.to_string()))
}

pub async fn login(client: &Client, mut args: LoginArgs, out: &mut impl Write) -> Result<(), Error> {
    if args.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        if args.password_stdin {
            return Err(Error::Usage(
                "--password and --password-stdin are mutually exclusive".into(),
            ));
        }
    }
    if args.password_stdin {
        if args.username.is_none() {
            return Err(Error::Usage("Must provide --username with --password-stdin".into()));
        }
        args.password = Some(read_password_stdin()?);
    }
    let (address, key) = server(args.server.as_deref());
    let mut store = open_store()?;
    if args.username.is_none()
        && args.password.is_none()
        && let Some(stored) = store.get(&key).filter(|a| !a.is_anonymous())
    {
        eprintln!("Authenticating with existing credentials...");
        match authenticate(client, &stored).await {
            Ok(status) => return write_out(out, &format!("{status}\n")),
            Err(e) => eprintln!("Login did not succeed, error: {e}"),
        }
    }
    let username = match args.username.filter(|u| !u.is_empty()) {
        Some(u) => u,
        None => prompt_line(out, "Username: ")?,
    };
    if username.is_empty() {
        return Err(Error::Usage("Error: Non-null Username Required".into()));
    }
    let password = match args.password.filter(|p| !p.is_empty()) {
        Some(p) => p,
        None => prompt_password(out, "Password: ")?,
    };
    if password.is_empty() {
        return Err(Error::Usage("Error: Password Required".into()));
    }
    let auth = AuthConfig {
        username: username.clone(),
        password: password.clone(),
        serveraddress: address,
        ..Default::default()
    };
    let reply = client.post_json("/auth", &auth).await?;
    let reply: AuthResponse = serde_json::from_slice(&reply).unwrap_or_default();
    store.set(&key, &username, &password, &reply.identity_token);
    store
        .save()
        .map_err(|e| Error::Usage(format!("Error saving credentials: {e}")))?;
    write_out(out, &format!("{}\n", status_of(&reply)))
}

/// `POST /auth` with stored credentials; the daemon's status on success.
async fn authenticate(client: &Client, auth: &AuthConfig) -> Result<String, Error> {
    let reply = client.post_json("/auth", auth).await?;
    Ok(status_of(&serde_json::from_slice(&reply).unwrap_or_default()))
}

fn status_of(reply: &AuthResponse) -> String {
    match reply.status.as_str() {
        "" => "Login Succeeded".to_string(),
        s => s.to_string(),
    }
}

pub fn logout(args: LogoutArgs, out: &mut impl Write) -> Result<(), Error> {
    let (address, key) = server(args.server.as_deref());
    // Docker names Docker Hub by its address, other registries by host.
    let shown = if key == HUB_KEY { address } else { key.clone() };
    write_out(out, &format!("Removing login credentials for {shown}\n"))?;
    let mut store = open_store()?;
    if store.remove(&key) {
        store.save().map_err(|e| Error::Usage(e.to_string()))?;
    }
    Ok(())
}

fn read_password_stdin() -> Result<String, Error> {
    let mut contents = String::new();
    std::io::stdin()
        .read_to_string(&mut contents)
        .map_err(|source| Error::Io {
            context: "reading the password from stdin".into(),
            source,
        })?;
    let p = contents.strip_suffix('\n').unwrap_or(&contents);
    Ok(p.strip_suffix('\r').unwrap_or(p).to_string())
}

fn interactive() -> Result<(), Error> {
    if rustix::termios::isatty(std::io::stdin().as_fd()) {
        Ok(())
    } else {
        Err(Error::Usage(
            "Error: Cannot perform an interactive login from a non TTY device".into(),
        ))
    }
}

fn prompt_line(out: &mut impl Write, prompt: &str) -> Result<String, Error> {
    interactive()?;
    write_out(out, prompt)?;
    let _ = out.flush();
    Ok(read_stdin_line()?.trim().to_string())
}

/// Reads a password from the terminal with echo off (restored after).
/// Echo goes off before the prompt is shown: whatever is typed once the
/// prompt is visible (a fast typist, a script answering it) never echoes.
fn prompt_password(out: &mut impl Write, prompt: &str) -> Result<String, Error> {
    interactive()?;
    let stdin = std::io::stdin();
    let saved = rustix::termios::tcgetattr(stdin.as_fd()).ok();
    if let Some(saved) = &saved {
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        let _ = rustix::termios::tcsetattr(stdin.as_fd(), rustix::termios::OptionalActions::Now, &quiet);
    }
    write_out(out, prompt)?;
    let _ = out.flush();
    let line = read_stdin_line();
    if let Some(saved) = &saved {
        let _ = rustix::termios::tcsetattr(stdin.as_fd(), rustix::termios::OptionalActions::Now, saved);
    }
    write_out(out, "\n")?;
    line
}
