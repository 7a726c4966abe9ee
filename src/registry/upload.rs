//! The write side of a [`Session`] (one opened for `pull,push`): blobs
//! checked with `HEAD` first, mounted from another repository of the same
//! registry when the source is known, otherwise uploaded — `POST` an
//! upload, then `PATCH` chunks (each `Content-Range`d, so memory stays
//! bounded whatever the blob's size) and `PUT ?digest=` to commit it, or
//! one `PUT` with the whole of a small blob — and manifests `PUT` by tag.

use super::session::{Request, Session, status_error};
use super::transport::PROGRESS_TIMEOUT;
use super::{Error, Result};
use crate::layers::Digest;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Method, StatusCode};

/// An upload under way: where its next request goes, and how many bytes
/// the registry has of it.
#[derive(Debug)]
pub struct Upload {
    location: String,
    offset: u64,
}

/// The outcome of a cross-repository mount.
#[derive(Debug)]
pub enum Mount {
    /// The registry linked the blob: nothing to upload.
    Mounted,
    /// It did not (another repository, no access): an upload to go on with.
    Upload(Upload),
}

impl Session {
    /// `HEAD /v2/REPO/blobs/DIGEST`: the blob's size when the repository
    /// has it, `None` when it does not.
    pub async fn blob_exists(&self, digest: &Digest) -> Result<Option<u64>> {
        let path = format!("/v2/{}/blobs/{digest}", self.name().path());
        let reply = self.send(&Request::new(Method::HEAD, path)).await?;
        match reply.response.status() {
            StatusCode::OK => Ok(Some(super::session::content_length(&reply.response).unwrap_or(0))),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(status_error(reply, self.name()).await),
        }
    }

    /// The first `n` bytes of a blob of this repository: a `Range`
    /// request, so only they come (a registry that ignores the range, or
    /// redirects, sends more, which is cut).
    pub async fn blob_prefix(self: &std::sync::Arc<Self>, digest: &Digest, n: usize) -> Result<Bytes> {
        let path = format!("/v2/{}/blobs/{digest}", self.name().path());
        let req =
            Request::new(Method::GET, path).header(hyper::header::RANGE, &format!("bytes=0-{}", n.saturating_sub(1)));
        let reply = self.send(&req).await?;
        let mut out = Vec::with_capacity(n);
        match reply.response.status() {
            StatusCode::OK | StatusCode::PARTIAL_CONTENT => {
                let mut body = reply.response.into_body();
                while out.len() < n {
                    let next = tokio::time::timeout(PROGRESS_TIMEOUT, body.frame()).await;
                    let blob_error = |message: String| Error::Blob {
                        digest: *digest,
                        message,
                    };
                    let Some(frame) = next.map_err(|_| blob_error("no data for 60s".into()))? else {
                        break;
                    };
                    let frame = frame.map_err(|e| blob_error(e.to_string()))?;
                    if let Ok(data) = frame.into_data() {
                        out.extend_from_slice(&data[..data.len().min(n - out.len())]);
                    }
                }
            }
            s if s.is_redirection() => {
                let mut blob = self.blob(*digest, None).await?;
                while out.len() < n {
                    let Some(chunk) = blob.next_chunk().await? else { break };
                    out.extend_from_slice(&chunk[..chunk.len().min(n - out.len())]);
                }
            }
            _ => return Err(status_error(reply, self.name()).await),
        }
        Ok(out.into())
    }

    /// `POST /v2/REPO/blobs/uploads/`: a new upload.
    pub async fn start_upload(&self) -> Result<Upload> {
        let path = format!("/v2/{}/blobs/uploads/", self.name().path());
        let reply = self.send(&Request::new(Method::POST, path)).await?;
        if reply.response.status() != StatusCode::ACCEPTED {
            return Err(status_error(reply, self.name()).await);
        }
        Ok(Upload {
            location: location_of(&reply.response)?,
            offset: 0,
        })
    }

    /// `POST /v2/REPO/blobs/uploads/?mount=DIGEST&from=SOURCE`: the blob
    /// linked from `source` (a repository path on the same registry), or
    /// an upload to send it with instead.
    pub async fn mount_blob(&self, digest: &Digest, source: &str) -> Result<Mount> {
        self.add_scope(format!("repository:{source}:pull"));
        let query = super::auth::encode_query(&[("mount", &digest.to_string()), ("from", source)]);
        let path = format!("/v2/{}/blobs/uploads/?{query}", self.name().path());
        let reply = self.send(&Request::new(Method::POST, path)).await?;
        match reply.response.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(Upload {
                location: location_of(&reply.response)?,
                offset: 0,
            })),
            _ => Err(status_error(reply, self.name()).await),
        }
    }

    /// Sends the next `chunk` of `upload` (`PATCH` with its range).
    pub async fn upload_chunk(&self, upload: &mut Upload, chunk: Bytes) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let end = upload.offset + chunk.len() as u64 - 1;
        let mut req = Request::new(Method::PATCH, upload.location.clone())
            .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
            .header(hyper::header::CONTENT_RANGE, &format!("{}-{end}", upload.offset));
        req.body = chunk;
        let reply = self.send(&req).await?;
        if reply.response.status() != StatusCode::ACCEPTED {
            return Err(status_error(reply, self.name()).await);
        }
        upload.location = location_of(&reply.response)?;
        upload.offset = end + 1;
        Ok(())
    }

    /// Commits `upload` as `digest` (`PUT LOCATION?digest=`), with `last`
    /// as its final bytes (empty after chunks; the whole blob for a
    /// monolithic upload). The registry checks the digest.
    pub async fn finish_upload(&self, upload: Upload, digest: &Digest, last: Bytes) -> Result<()> {
        let sep = if upload.location.contains('?') { '&' } else { '?' };
        let mut req = Request::new(Method::PUT, format!("{}{sep}digest={digest}", upload.location))
            .header(hyper::header::CONTENT_TYPE, "application/octet-stream");
        req.body = last;
        let reply = self.send(&req).await?;
        if reply.response.status() != StatusCode::CREATED {
            return Err(status_error(reply, self.name()).await);
        }
        Ok(())
    }

    /// A small blob (a config) uploaded whole, unless the repository has
    /// it: its digest.
    pub async fn put_blob(&self, bytes: Bytes) -> Result<Digest> {
        let digest = Digest::of(&bytes);
        if self.blob_exists(&digest).await?.is_none() {
            let upload = self.start_upload().await?;
            self.finish_upload(upload, &digest, bytes).await?;
        }
        Ok(digest)
    }

    /// `PUT /v2/REPO/manifests/REFERENCE` of `bytes` as `media_type`: the
    /// manifest's digest, which the registry's answer must agree with.
    pub async fn put_manifest(&self, reference: &str, media_type: &str, bytes: Bytes) -> Result<Digest> {
        let digest = Digest::of(&bytes);
        let path = format!("/v2/{}/manifests/{reference}", self.name().path());
        let mut req = Request::new(Method::PUT, path).header(hyper::header::CONTENT_TYPE, media_type);
        req.body = bytes;
        let reply = self.send(&req).await?;
        if reply.response.status() != StatusCode::CREATED {
            return Err(status_error(reply, self.name()).await);
        }
        let answered = reply
            .response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        match answered {
            Some(d) if d != digest => Err(Error::ManifestDigest(d)),
            _ => Ok(digest),
        }
    }
}

/// An upload reply's `Location` (where the next request goes).
fn location_of<B>(resp: &hyper::Response<B>) -> Result<String> {
    resp.headers()
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| Error::Protocol("the registry's upload reply has no Location".into()))
}
