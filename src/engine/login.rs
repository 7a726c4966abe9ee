//! `login`: credentials checked against a registry's `/v2/` (its
//! challenge answered, a token fetched when it wants one). Nothing is
//! kept: the client stores what succeeded.

use super::Error;
use super::pull::registry_error;
use crate::registry::{Credentials, RegistryConfig, RemoteName, Session};

/// Checks `credentials` against the registry `server` (`HOST[:PORT]` or
/// `docker.io`). Refused credentials are [`Error::Unauthorized`].
pub async fn login(config: RegistryConfig, server: &str, credentials: Credentials) -> Result<(), Error> {
    let name = RemoteName::registry(server).map_err(registry_error)?;
    Session::new(config, name, credentials, "")
        .check_login()
        .await
        .map_err(registry_error)
}
