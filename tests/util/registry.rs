//! A real registry per test: Debian's `docker-registry` (CNCF distribution
//! 2.8) on 127.0.0.1 and a free port, its storage in the test's temporary
//! directory, killed and reaped on drop. Four set-ups: plain HTTP, htpasswd
//! Basic auth, TLS with a CA made by `openssl` in the test, and `auth:
//! token` with the test's own issuer (tests/util/token_issuer.rs).
//!
//! Seeded without Strata (`skopeo copy`), read and written raw with `curl`
//! (tests/util/registry_http.rs), with the token flow as a client does it.

use super::registry_http::{Endpoint, Reply, Request, basic_header, bearer_challenge, query_escape};
use super::test_image::{TestImage, media, one_file_layer};
use super::token_issuer::{TOKEN_ISSUER, TOKEN_SERVICE, TokenIssuer, TokenPolicy};
use super::{busybox_tar, tools};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running registry, killed and reaped on drop.
pub struct Registry {
    pub dir: tempfile::TempDir,
    port: u16,
    child: Child,
    /// The user and password it requires (Basic, or for tokens).
    pub creds: Option<(String, String)>,
    endpoint: Endpoint,
    pub issuer: Option<TokenIssuer>,
}

/// The tools a registry test needs.
pub fn registry_tools() -> Result<(), String> {
    tools(&["docker-registry", "skopeo", "curl", "openssl", "htpasswd"])
}

/// `openssl ARGS`, quietly; its stderr as the error.
pub(crate) fn openssl(args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {}: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// What a set-up adds to the config, and keeps.
#[derive(Default)]
struct Setup {
    http_extra: String,
    auth: String,
    creds: Option<(String, String)>,
    ca: Option<PathBuf>,
    issuer: Option<TokenIssuer>,
}

impl Registry {
    /// Plain HTTP, anonymous: anyone pulls and pushes.
    pub fn plain() -> Result<Registry, String> {
        registry_tools()?;
        Registry::start(tempdir()?, Setup::default())
    }

    /// Plain HTTP with htpasswd (bcrypt) Basic auth for `user`/`password`.
    pub fn basic(user: &str, password: &str) -> Result<Registry, String> {
        registry_tools()?;
        let dir = tempdir()?;
        let htpasswd = dir.path().join("htpasswd");
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .map_err(|e| format!("htpasswd: {e}"))?;
        if !out.status.success() {
            return Err(format!("htpasswd: {}", String::from_utf8_lossy(&out.stderr)));
        }
        std::fs::write(&htpasswd, &out.stdout).map_err(|e| e.to_string())?;
        let setup = Setup {
            auth: format!(
                "auth:\n  htpasswd:\n    realm: strata-test\n    path: {}\n",
                htpasswd.display()
            ),
            creds: Some((user.into(), password.into())),
            ..Setup::default()
        };
        Registry::start(dir, setup)
    }

    /// HTTPS, anonymous, its certificate (for IP 127.0.0.1) signed by a CA
    /// made here: `ca` is its path, [`Registry::install_ca`] puts it where
    /// a daemon's `--config-dir` looks.
    pub fn tls() -> Result<Registry, String> {
        registry_tools()?;
        let dir = tempdir()?;
        let d = |name: &str| dir.path().join(name);
        // The CA alone in its directory: skopeo's --cert-dir reads every
        // *.crt there as a CA and wants a *.cert for every *.key.
        std::fs::create_dir(d("ca")).map_err(|e| e.to_string())?;
        let (ca, ca_key, key, csr, cert, ext) = (
            d("ca/ca.crt"),
            d("ca.key"),
            d("server.key"),
            d("server.csr"),
            d("server.crt"),
            d("server.ext"),
        );
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", "/CN=strata-test-ca"];
        args.extend(ec);
        args.extend([
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        args.extend(["-keyout", path(&ca_key), "-out", path(&ca)]);
        openssl(&args)?;
        let mut args = vec!["req", "-new", "-subj", "/CN=127.0.0.1"];
        args.extend(ec);
        args.extend(["-keyout", path(&key), "-out", path(&csr)]);
        openssl(&args)?;
        std::fs::write(
            &ext,
            "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        openssl(&[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            path(&csr),
            "-CA",
            path(&ca),
            "-CAkey",
            path(&ca_key),
            "-CAcreateserial",
            "-extfile",
            path(&ext),
            "-out",
            path(&cert),
        ])?;
        let setup = Setup {
            http_extra: format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ),
            ca: Some(ca),
            ..Setup::default()
        };
        Registry::start(dir, setup)
    }

    /// Plain HTTP with `auth: token`: tokens from the test's issuer, which
    /// grants `user`/`password` everything and refuses anonymous requests.
    pub fn token(user: &str, password: &str) -> Result<Registry, String> {
        Registry::with_issuer(user, password, false)
    }

    /// As [`Registry::token`], but anonymous clients get pull tokens (as
    /// Docker Hub gives for public repositories).
    pub fn token_public(user: &str, password: &str) -> Result<Registry, String> {
        Registry::with_issuer(user, password, true)
    }

    fn with_issuer(user: &str, password: &str, anonymous_pull: bool) -> Result<Registry, String> {
        registry_tools()?;
        let dir = tempdir()?;
        let policy = TokenPolicy {
            user: user.into(),
            password: password.into(),
            anonymous_pull,
        };
        let issuer = TokenIssuer::start(dir.path(), policy)?;
        let setup = Setup {
            auth: format!(
                "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                issuer.realm(),
                issuer.cert.display()
            ),
            creds: Some((user.into(), password.into())),
            issuer: Some(issuer),
            ..Setup::default()
        };
        Registry::start(dir, setup)
    }

    /// Writes the config for a free port and starts the registry; a port
    /// taken in between (by another test) is retried on a new one.
    fn start(dir: tempfile::TempDir, setup: Setup) -> Result<Registry, String> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let config = dir.path().join("config.yml");
            let text = format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{}{}",
                dir.path().join("data").display(),
                setup.http_extra,
                setup.auth
            );
            std::fs::write(&config, text).map_err(|e| e.to_string())?;
            let log_path = dir.path().join("registry.log");
            let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log)
                .spawn()
                .map_err(|e| format!("docker-registry: {e}"))?;
            let endpoint = Endpoint {
                base: format!(
                    "{}://127.0.0.1:{port}",
                    if setup.ca.is_some() { "https" } else { "http" }
                ),
                ca: setup.ca.clone(),
            };
            match wait_ready(&mut child, &endpoint, &log_path) {
                Ok(()) => {
                    return Ok(Registry {
                        dir,
                        port,
                        child,
                        endpoint,
                        creds: setup.creds,
                        issuer: setup.issuer,
                    });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = e;
                }
            }
        }
        Err(last)
    }
}

/// Polls `GET /v2/` until the registry answers (200 or 401); its exit (the
/// port taken) or 20 s of silence is an error with its log.
fn wait_ready(child: &mut Child, endpoint: &Endpoint, log: &Path) -> Result<(), String> {
    let log = || std::fs::read_to_string(log).unwrap_or_default();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("docker-registry exited ({status}): {}", log()));
        }
        if matches!(endpoint.curl(&Request::new("GET", "/v2/"), None).status, 200 | 401) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("docker-registry did not answer in 20 s: {}", log()))
}

fn tempdir() -> Result<tempfile::TempDir, String> {
    tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Whether a skopeo argument set is for the source, the destination, or
/// a one-image command (`inspect`).
#[derive(Clone, Copy)]
pub enum Side {
    Src,
    Dest,
    Only,
}

/// The kind of multi-platform list [`Registry::push_index`] writes.
#[derive(Clone, Copy)]
pub enum IndexKind {
    Oci,
    DockerList,
}

/// The digests of [`Registry::seed_platforms`]' index and its entries.
pub struct Platforms {
    pub index: String,
    pub amd64: String,
    pub arm64: String,
}

impl Registry {
    /// `127.0.0.1:PORT`: the registry's part of an image reference.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT` or `https://…`.
    pub fn url(&self) -> String {
        self.endpoint.base.clone()
    }

    /// The CA that signed the TLS set-up's certificate.
    pub fn ca(&self) -> Option<&Path> {
        self.endpoint.ca.as_deref()
    }

    /// Writes `CONFIG_DIR/certs.d/127.0.0.1:PORT/ca.crt` (Docker's layout),
    /// for a daemon started with `--config-dir CONFIG_DIR`; its path.
    pub fn install_ca(&self, config_dir: &Path) -> PathBuf {
        let dir = config_dir.join("certs.d").join(self.addr());
        std::fs::create_dir_all(&dir).expect("certs.d");
        let ca = dir.join("ca.crt");
        std::fs::copy(self.ca().expect("a TLS registry"), &ca).expect("copy the CA");
        ca
    }

    /// The registry's log (distribution's access and error lines).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The token issuer's requests so far (see [`TokenIssuer::requests`]).
    pub fn token_requests(&self) -> Vec<String> {
        self.issuer.as_ref().map(TokenIssuer::requests).unwrap_or_default()
    }

    /// The flags skopeo needs for this registry on `side`: TLS (or not),
    /// the CA, the credentials.
    pub fn skopeo_args(&self, side: Side) -> Vec<String> {
        let p = match side {
            Side::Src => "--src-",
            Side::Dest => "--dest-",
            Side::Only => "--",
        };
        let mut args = Vec::new();
        match self.ca() {
            Some(ca) => args.push(format!("{p}cert-dir={}", ca.parent().expect("ca dir").display())),
            None => args.push(format!("{p}tls-verify=false")),
        }
        if let Some((u, pw)) = &self.creds {
            args.push(format!("{p}creds={u}:{pw}"));
        }
        args
    }

    /// `req` with the registry's credentials as a client sends them: Basic,
    /// or for tokens the flow (anonymous first; on a Bearer challenge, a
    /// token for its scope with the credentials, then again with it).
    pub fn request(&self, req: &Request) -> Reply {
        match &self.creds {
            Some((user, password)) => self.request_as(req, user, password),
            None => self.endpoint.curl(req, None),
        }
    }

    /// `req` with these credentials, as [`Registry::request`] sends them.
    pub fn request_as(&self, req: &Request, user: &str, password: &str) -> Reply {
        if self.issuer.is_none() {
            return self.endpoint.curl(req, Some(&basic_header(user, password)));
        }
        let first = self.endpoint.curl(req, None);
        let challenge = first.header("www-authenticate").and_then(bearer_challenge);
        let (401, Some(challenge)) = (first.status, challenge) else {
            return first;
        };
        match self.fetch_token(&challenge, Some((user, password))) {
            Ok(token) => self.endpoint.curl(req, Some(&format!("Bearer {token}"))),
            Err(refused) => refused,
        }
    }

    /// `req` without credentials.
    pub fn request_anonymous(&self, req: &Request) -> Reply {
        self.endpoint.curl(req, None)
    }

    /// A token from the challenge's realm for its service and scope: the
    /// token, or the issuer's refusal.
    pub fn fetch_token(&self, challenge: &[(String, String)], creds: Option<(&str, &str)>) -> Result<String, Reply> {
        let get = |k: &str| challenge.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let mut url = format!(
            "{}?service={}",
            get("realm").expect("realm"),
            query_escape(get("service").unwrap_or(""))
        );
        if let Some(scope) = get("scope") {
            url += &format!("&scope={}", query_escape(scope));
        }
        let auth = creds.map(|(u, p)| basic_header(u, p));
        let reply = self.endpoint.curl(&Request::new("GET", &url), auth.as_deref());
        if reply.status != 200 {
            return Err(reply);
        }
        Ok(reply.json()["token"].as_str().expect("token").to_string())
    }
}

/// What is in the registry: read, written and seeded.
impl Registry {
    /// `GET /v2/REPO/manifests/REFERENCE` accepting every manifest type:
    /// `(media type, exact bytes, digest)`; the digest is the reply's
    /// `Docker-Content-Digest`, checked against the bytes.
    pub fn manifest(&self, repo: &str, reference: &str) -> (String, Vec<u8>, String) {
        let req = Request::new("GET", &format!("/v2/{repo}/manifests/{reference}")).header("Accept", media::ACCEPT_ALL);
        let reply = self.request(&req);
        assert_eq!(reply.status, 200, "GET manifest {repo}:{reference}: {reply:?}");
        let digest = super::digest_of(&reply.body);
        assert_eq!(
            reply.header("docker-content-digest"),
            Some(digest.as_str()),
            "{reply:?}"
        );
        let media_type = reply.header("content-type").expect("Content-Type").to_string();
        (media_type, reply.body, digest)
    }

    /// `GET /v2/REPO/blobs/DIGEST`: the blob's bytes.
    pub fn get_blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let reply = self.request(&Request::new("GET", &format!("/v2/{repo}/blobs/{digest}")));
        assert_eq!(reply.status, 200, "GET blob {repo}@{digest}: {reply:?}");
        reply.body
    }

    /// Uploads `bytes` to REPO (`POST` an upload, `PUT ?digest=`): its digest.
    pub fn put_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = super::digest_of(bytes);
        let started = self.request(&Request::new("POST", &format!("/v2/{repo}/blobs/uploads/")));
        assert_eq!(started.status, 202, "POST upload to {repo}: {started:?}");
        let location = started.header("location").expect("Location");
        let location = if location.starts_with('/') {
            format!("{}{location}", self.url())
        } else {
            location.to_string()
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = Request::new("PUT", &format!("{location}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec());
        let done = self.request(&put);
        assert_eq!(done.status, 201, "PUT blob {digest}: {done:?}");
        digest
    }

    /// `PUT /v2/REPO/manifests/REFERENCE` of `bytes` as `media_type`: the
    /// digest the registry answers with.
    pub fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) -> String {
        let req = Request::new("PUT", &format!("/v2/{repo}/manifests/{reference}"))
            .header("Content-Type", media_type)
            .body(bytes.to_vec());
        let reply = self.request(&req);
        assert_eq!(reply.status, 201, "PUT manifest {repo}:{reference}: {reply:?}");
        reply
            .header("docker-content-digest")
            .expect("Docker-Content-Digest")
            .to_string()
    }

    /// Pushes an image's blobs and manifest by raw HTTP (no skopeo): what a
    /// hand-made image (a config that lies, say) needs. Its manifest digest.
    pub fn put_image(&self, repo: &str, tag: &str, image: &super::RegistryImage) -> String {
        for blob in std::iter::once(&image.config).chain(&image.layers) {
            self.put_blob(repo, &blob.bytes);
        }
        self.put_manifest(repo, tag, &image.manifest.media_type, &image.manifest.bytes)
    }

    /// The tags of REPO (`/v2/REPO/tags/list`).
    pub fn tags(&self, repo: &str) -> Vec<String> {
        let reply = self.request(&Request::new("GET", &format!("/v2/{repo}/tags/list")));
        assert_eq!(reply.status, 200, "tags of {repo}: {reply:?}");
        let tags = reply.json()["tags"].as_array().cloned().unwrap_or_default();
        tags.iter().filter_map(|t| t.as_str().map(String::from)).collect()
    }

    /// `skopeo copy ARCHIVE docker://ADDR/REPO_TAG` (`source` is a skopeo
    /// image name: `docker-archive:FILE`, `oci:DIR`, `dir:DIR`) with
    /// `extra` flags (`--format oci`, `--dest-compress-format zstd`): the
    /// pushed manifest's digest.
    pub fn seed_with(&self, source: &str, repo_tag: &str, extra: &[&str]) -> String {
        let digestfile = self
            .dir
            .path()
            .join(format!("digest-{}", repo_tag.replace(['/', ':'], "_")));
        let out = Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--quiet"])
            .args(self.skopeo_args(Side::Dest))
            .args(extra)
            .arg("--digestfile")
            .arg(&digestfile)
            .arg(source)
            .arg(format!("docker://{}/{repo_tag}", self.addr()))
            .stdin(Stdio::null())
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy {source} to {repo_tag}: {}\n{}",
            super::text(&out),
            self.log()
        );
        std::fs::read_to_string(&digestfile)
            .expect("skopeo's digest file")
            .trim()
            .to_string()
    }

    /// Seeds a Docker archive (`docker save` form) as REPO:TAG.
    pub fn seed_archive(&self, archive: &Path, repo_tag: &str) -> String {
        self.seed_with(&format!("docker-archive:{}", archive.display()), repo_tag, &[])
    }

    /// Seeds `image` as REPO:TAG through a Docker archive and skopeo (which
    /// gzips its layers): the manifest's digest.
    pub fn seed_image(&self, image: &TestImage, repo_tag: &str, extra: &[&str]) -> String {
        let archive = self
            .dir
            .path()
            .join(format!("seed-{}.tar", repo_tag.replace(['/', ':'], "_")));
        image.write_docker_archive(&archive, repo_tag);
        let digest = self.seed_with(&format!("docker-archive:{}", archive.display()), repo_tag, extra);
        let _ = std::fs::remove_file(&archive);
        digest
    }

    /// Seeds the suite's busybox image (one layer: scripts/busybox-image.sh)
    /// as REPO:TAG: the image and its manifest's digest; or why busybox
    /// cannot be built here.
    pub fn seed_busybox(&self, repo_tag: &str) -> Result<(TestImage, String), String> {
        let image = busybox_image()?;
        let digest = self.seed_image(&image, repo_tag, &[]);
        Ok((image, digest))
    }

    /// Pushes a multi-platform list to REPO:TAG of manifests already in
    /// REPO: `entries` are `("linux/arm64[/v8]", manifest digest)`. Its digest.
    pub fn push_index(&self, repo: &str, tag: &str, entries: &[(&str, &str)], kind: IndexKind) -> String {
        let manifests: Vec<_> = entries
            .iter()
            .map(|(platform, digest)| {
                let (media_type, bytes, _) = self.manifest(repo, digest);
                let mut parts = platform.split('/');
                let mut p = serde_json::json!({"os": parts.next(), "architecture": parts.next()});
                if let Some(variant) = parts.next() {
                    p["variant"] = variant.into();
                }
                serde_json::json!({"mediaType": media_type, "size": bytes.len(), "digest": digest, "platform": p})
            })
            .collect();
        let media_type = match kind {
            IndexKind::Oci => media::OCI_INDEX,
            IndexKind::DockerList => media::DOCKER_LIST,
        };
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests});
        self.put_manifest(repo, tag, media_type, &serde_json::to_vec(&index).expect("JSON"))
    }

    /// REPO:TAG as a list of a `linux/amd64` busybox (REPO:TAG-amd64) and a
    /// small `linux/arm64` image (REPO:TAG-arm64, one file `/arm64`). The
    /// OCI kind has OCI manifests (skopeo `--format oci`) under it.
    pub fn seed_platforms(&self, repo: &str, tag: &str, kind: IndexKind) -> Result<Platforms, String> {
        let format: &[&str] = match kind {
            IndexKind::Oci => &["--format", "oci"],
            IndexKind::DockerList => &[],
        };
        let amd64 = self.seed_image(&busybox_image()?, &format!("{repo}:{tag}-amd64"), format);
        let arm = TestImage::new("arm64", vec![one_file_layer("arm64", b"arm64\n")]);
        let arm64 = self.seed_image(&arm, &format!("{repo}:{tag}-arm64"), format);
        let index = self.push_index(repo, tag, &[("linux/amd64", &amd64), ("linux/arm64/v8", &arm64)], kind);
        Ok(Platforms { index, amd64, arm64 })
    }
}

/// The busybox image of scripts/busybox-image.sh as a one-layer image;
/// the tar is built once per test process (it takes seconds).
pub fn busybox_image() -> Result<TestImage, String> {
    static LAYER: std::sync::OnceLock<Result<Vec<u8>, String>> = std::sync::OnceLock::new();
    let layer = LAYER.get_or_init(|| {
        let dir = tempdir()?;
        let tar = busybox_tar(dir.path())?;
        std::fs::read(&tar).map_err(|e| format!("read {}: {e}", tar.display()))
    });
    Ok(TestImage::new("amd64", vec![layer.clone()?]))
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skopeo ARGS` (with `--insecure-policy`): its output.
pub fn skopeo(args: &[&str]) -> Output {
    Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run skopeo")
}
