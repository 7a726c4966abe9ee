//! One file per verb.

pub mod history;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod rmi;
pub mod tag;
pub mod version;
