//! One file per verb.

pub mod archives;
pub mod attach;
pub mod commit;
pub mod create;
pub mod diff;
pub mod exec;
pub mod history;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod lifecycle;
pub mod login;
pub mod logs;
pub mod mount_args;
pub mod ps;
pub mod pull;
pub mod push;
pub mod rmi;
pub mod run;
pub mod security_args;
pub mod start;
pub mod tag;
pub mod top;
pub mod version;
