use super::http::{Body, json};
use crate::wire::ErrorResponse;
use crate::{engine, layers};
use hyper::{Response, StatusCode};

/// An error as the API reports it: a status and Docker's `{"message": …}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let message = crate::quote::bounded(message.into());
        ApiError { status, message }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn into_response(self) -> Response<Body> {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, "{}", self.message);
        } else {
            tracing::debug!(status = %self.status, "{}", self.message);
        }
        json(self.status, &ErrorResponse { message: self.message })
    }
}

impl From<layers::Error> for ApiError {
    fn from(e: layers::Error) -> Self {
        use layers::Error as E;
        let status = match &e {
            E::ImageNotFound(_) => StatusCode::NOT_FOUND,
            E::Reference(_) | E::Archive(_) | E::Config(_) => StatusCode::BAD_REQUEST,
            E::LayerVerification(_) | E::DiffIdMismatch { .. } | E::BlobUnreadable(..) | E::MissingLayer(_) => {
                StatusCode::BAD_REQUEST
            }
            E::Conflict(_) => StatusCode::CONFLICT,
            E::Io { source, .. } if is_disk_full(source) => StatusCode::INSUFFICIENT_STORAGE,
            E::Locked(_) | E::Layout(_) | E::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The engine's kinds as Docker's status codes.
impl From<engine::Error> for ApiError {
    fn from(e: engine::Error) -> Self {
        use engine::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::NotFound(m) => ApiError::not_found(m),
            E::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            E::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
            E::InvalidArgument(m) => ApiError::bad_request(m),
            E::Unauthorized(m) => ApiError::new(StatusCode::UNAUTHORIZED, m),
            E::StorageFull(m) => ApiError::new(StatusCode::INSUFFICIENT_STORAGE, m),
            E::Internal(m) => ApiError::internal(m),
        }
    }
}

fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}
