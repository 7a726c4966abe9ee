//! Names and their rules: resolving a reference or ID, tagging, and
//! removing a tag or an image with Docker's rules.

use super::Store;
use super::state::State;
use crate::layers::chain;
use crate::layers::digest::Digest;
use crate::layers::reference::Reference;
use crate::layers::{Error, Result};
use std::collections::BTreeSet;
use std::fs;

/// One step of an image removal, in Docker's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    Untagged(Reference),
    Deleted(Digest),
}

/// A container standing on an image: it keeps the image from being deleted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageUser {
    /// The container's short ID, as messages name it.
    pub container: String,
    pub running: bool,
}

/// Why the removal rules refuse to remove what was named. The store states
/// the facts; the API words them as Docker does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Named by ID, the image has several tags and `force` was not given.
    MultipleTags { image: Digest },
    /// Named by its last tag, the image is used by a container and `force`
    /// was not given (with it, the tag goes and the image stays).
    TagInUse {
        tag: Reference,
        image: Digest,
        user: ImageUser,
    },
    /// Named by ID, the image is used by a container: not even `force`
    /// deletes it.
    ImageInUse { image: Digest, user: ImageUser },
    /// Named by ID with no tag left to remove, the image is the parent of
    /// other images, which need it.
    HasChildren { image: Digest },
}

impl Store {
    /// Finds an image by reference, full or `sha256:` ID, or unique ID prefix.
    pub fn resolve(&self, name: &str) -> Result<Digest> {
        let state = self.state();
        resolve_in(&state, name)
    }

    /// Points `target` at the image `source` names.
    pub fn tag(&self, source: &str, target: Reference) -> Result<Digest> {
        let mut state = self.state();
        let id = resolve_in(&state, source)?;
        let mut next = state.clone();
        next.tags.insert(target, id);
        self.save_state(&next)?;
        *state = next;
        Ok(id)
    }

    /// Removes a tag, or an image, with Docker's rules: a tag is untagged and
    /// the image deleted only when nothing else names it; an ID naming an
    /// image with several tags needs `force`; an image with children cannot go.
    /// `held_by`: a container standing on the image, which then cannot be
    /// deleted, only untagged (with `force`). The outer error is the store
    /// failing; the inner one is the rules refusing, with nothing changed.
    pub fn remove_image(
        &self,
        name: &str,
        force: bool,
        held_by: Option<&ImageUser>,
    ) -> Result<Result<Vec<Removal>, Refusal>> {
        let mut state = self.state();
        let id = resolve_in(&state, name)?;
        let tags: Vec<Reference> = state
            .tags
            .iter()
            .filter(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .collect();
        let by_tag = Reference::parse(name).ok().filter(|r| state.tags.get(r) == Some(&id));
        let mut next = state.clone();
        let mut removals = Vec::new();
        match &by_tag {
            Some(r) => {
                next.tags.remove(r);
                removals.push(Removal::Untagged(r.clone()));
                if tags.len() > 1 {
                    self.save_state(&next)?;
                    *state = next;
                    return Ok(Ok(removals));
                }
            }
            None => {
                if tags.len() > 1 && !force {
                    return Ok(Err(Refusal::MultipleTags { image: id }));
                }
                for r in tags {
                    next.tags.remove(&r);
                    removals.push(Removal::Untagged(r));
                }
            }
        }
        if let Some(user) = held_by {
            return match (&by_tag, force) {
                (Some(_), true) => {
                    self.save_state(&next)?;
                    *state = next;
                    Ok(Ok(removals))
                }
                (Some(r), false) => Ok(Err(Refusal::TagInUse {
                    tag: r.clone(),
                    image: id,
                    user: user.clone(),
                })),
                (None, _) => Ok(Err(Refusal::ImageInUse {
                    image: id,
                    user: user.clone(),
                })),
            };
        }
        if next.images.values().any(|rec| rec.parent == Some(id)) {
            if removals.is_empty() {
                return Ok(Err(Refusal::HasChildren { image: id }));
            }
            // Untagged only; the image stays as its children's parent.
            self.save_state(&next)?;
            *state = next;
            return Ok(Ok(removals));
        }
        let removed_chain = next
            .images
            .remove(&id)
            .and_then(|r| chain::chain_id(&r.config.rootfs.diff_ids));
        let chain_still_used = removed_chain.is_some_and(|c| {
            next.images
                .values()
                .any(|r| chain::chain_id(&r.config.rootfs.diff_ids) == Some(c))
        });
        let still_used: BTreeSet<Digest> = next
            .images
            .values()
            .flat_map(|r| r.config.rootfs.diff_ids.iter().copied())
            .collect();
        let orphans: Vec<Digest> = next
            .layers
            .keys()
            .filter(|d| !still_used.contains(d))
            .copied()
            .collect();
        for d in &orphans {
            next.layers.remove(d);
        }
        self.save_state(&next)?;
        *state = next;
        removals.push(Removal::Deleted(id));
        drop(state);
        // Past the commit point: failures here leave garbage for the next start.
        if let Err(e) = fs::remove_file(self.config_path(&id)) {
            tracing::warn!("removing the config of {id}: {e}");
        }
        if let Some(c) = removed_chain.filter(|_| !chain_still_used)
            && let Err(e) = fs::remove_file(self.chain_index_path(&c))
        {
            tracing::warn!("removing the chain index {c}: {e}");
        }
        for d in orphans {
            if let Err(e) = self.discard(&self.layer_dir(&d)) {
                tracing::warn!("removing layer {d}: {e}");
            }
        }
        Ok(Ok(removals))
    }
}

pub(super) fn resolve_in(state: &State, name: &str) -> Result<Digest> {
    let not_found = || Error::ImageNotFound(crate::quote::excerpt(name, 128));
    if let Ok(d) = name.parse::<Digest>() {
        return state.images.contains_key(&d).then_some(d).ok_or_else(not_found);
    }
    if let Some(d) = Digest::from_hex(name)
        && state.images.contains_key(&d)
    {
        return Ok(d);
    }
    match Reference::parse(name) {
        Ok(r) => {
            if let Some(id) = state.tags.get(&r) {
                return Ok(*id);
            }
        }
        // A name that is neither a valid reference nor an ID prefix is a client error.
        Err(e) if !crate::layers::digest::is_hex(name.strip_prefix("sha256:").unwrap_or(name)) => return Err(e.into()),
        Err(_) => {}
    }
    let prefix = name.strip_prefix("sha256:").unwrap_or(name);
    if crate::layers::digest::is_hex(prefix) {
        let mut matches = state.images.keys().filter(|d| d.hex().starts_with(prefix));
        if let Some(first) = matches.next() {
            if matches.next().is_some() {
                return Err(Error::Conflict(format!("image ID prefix {prefix:?} is ambiguous")));
            }
            return Ok(*first);
        }
    }
    Err(not_found())
}
