//! Names and their rules: resolving a reference or ID, tagging, and
//! removing a tag or an image with Docker's rules, which [`plan_removal`]
//! decides from the state alone (or refuses, as a [`Refusal`]) before
//! `remove_image` saves the new state and then removes the files.

use super::Store;
use super::state::{ImageRecord, State};
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

/// What keeps an image from being deleted: a container standing on it,
/// or a user mount of its layers (`strata mount`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageUser {
    Container {
        /// The container's short ID, as messages name it.
        id: String,
        running: bool,
    },
    Mount {
        /// Where it is mounted.
        dir: String,
    },
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
        self.replace_state(&mut state, next)?;
        Ok(id)
    }

    /// Removes a tag, or an image, with Docker's rules (see
    /// [`plan_removal`]). `held_by`: a container standing on the image. The
    /// outer error is the store failing; the inner one is the rules refusing,
    /// with nothing changed.
    pub fn remove_image(
        &self,
        name: &str,
        force: bool,
        held_by: Option<&ImageUser>,
    ) -> Result<Result<Vec<Removal>, Refusal>> {
        let mut state = self.state();
        let (id, by_tag) = named_for_removal(&state, name)?;
        let plan = match plan_removal(&state, id, by_tag.as_ref(), force, held_by) {
            Ok(plan) => plan,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let next = state.after(&plan);
        self.replace_state(&mut state, next)?;
        drop(state);
        if let Some(deletion) = &plan.delete {
            self.remove_deleted_files(deletion);
        }
        Ok(Ok(plan.removals()))
    }

    /// Removes the files of a deleted image. Past the commit point: a
    /// failure here leaves garbage for the next start, never a broken image.
    fn remove_deleted_files(&self, deletion: &Deletion) {
        let id = deletion.image;
        if let Err(e) = fs::remove_file(self.config_path(&id)) {
            tracing::warn!("removing the config of {id}: {e}");
        }
        if let Some(c) = deletion.chain
            && let Err(e) = fs::remove_file(self.chain_index_path(&c))
        {
            tracing::warn!("removing the chain index {c}: {e}");
        }
        for d in &deletion.layers {
            if let Err(e) = self.discard(&self.layer_dir(d)) {
                tracing::warn!("removing layer {d}: {e}");
            }
        }
    }
}

/// What removing a name does, decided from the state alone: the tags that
/// go and, when the image goes too, what goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RemovalPlan {
    pub(super) untag: Vec<Reference>,
    pub(super) delete: Option<Deletion>,
}

/// An image deleted, and what only it used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Deletion {
    pub(super) image: Digest,
    /// Its chain index, unless another image has the same layers.
    pub(super) chain: Option<Digest>,
    /// The layers no remaining image uses.
    pub(super) layers: Vec<Digest>,
}

impl RemovalPlan {
    fn untag_only(untag: Vec<Reference>) -> Self {
        RemovalPlan { untag, delete: None }
    }

    /// The steps as Docker reports them: the tags first, the image last.
    pub(super) fn removals(&self) -> Vec<Removal> {
        let untagged = self.untag.iter().cloned().map(Removal::Untagged);
        untagged
            .chain(self.delete.iter().map(|d| Removal::Deleted(d.image)))
            .collect()
    }
}

impl Deletion {
    /// Deleting `image` from `state`, with the chain index and layers no
    /// other image needs.
    fn of(state: &State, image: Digest) -> Self {
        let chain_of = |rec: &ImageRecord| chain::chain_id(&rec.config.rootfs.diff_ids);
        let others: Vec<&ImageRecord> = state
            .images
            .iter()
            .filter(|(id, _)| **id != image)
            .map(|(_, rec)| rec)
            .collect();
        let chain = state
            .images
            .get(&image)
            .and_then(chain_of)
            .filter(|c| !others.iter().any(|rec| chain_of(rec) == Some(*c)));
        let still_used: BTreeSet<Digest> = others
            .iter()
            .flat_map(|rec| rec.config.rootfs.diff_ids.iter().copied())
            .collect();
        let layers = state
            .layers
            .keys()
            .filter(|d| !still_used.contains(d))
            .copied()
            .collect();
        Deletion { image, chain, layers }
    }
}

impl State {
    /// The state once `plan` is carried out.
    pub(super) fn after(&self, plan: &RemovalPlan) -> State {
        let mut next = self.clone();
        for tag in &plan.untag {
            next.tags.remove(tag);
        }
        if let Some(deletion) = &plan.delete {
            next.images.remove(&deletion.image);
            for layer in &deletion.layers {
                next.layers.remove(layer);
            }
        }
        next
    }
}

/// The image `name` resolves to, and the tag it is when it is one of the
/// image's tags (`rmi TAG` removes that tag; anything else names the image).
fn named_for_removal(state: &State, name: &str) -> Result<(Digest, Option<Reference>)> {
    let id = resolve_in(state, name)?;
    let by_tag = Reference::parse(name).ok().filter(|r| state.tags.get(r) == Some(&id));
    Ok((id, by_tag))
}

/// Docker's removal rules, for `image` named by its tag `by_tag` or (None)
/// by ID:
/// - a tag is untagged; the image goes with it only if it was its last tag;
/// - an ID untags every tag and deletes the image, but several tags need
///   `force`;
/// - an image a container uses (`held_by`) is never deleted: its last tag
///   may go with `force`, an ID is refused;
/// - an image with children is never deleted: its tags may go, and with
///   none to remove the ID is refused.
pub(super) fn plan_removal(
    state: &State,
    image: Digest,
    by_tag: Option<&Reference>,
    force: bool,
    held_by: Option<&ImageUser>,
) -> Result<RemovalPlan, Refusal> {
    let tags = state.tags_of(image);
    let untag = match by_tag {
        Some(tag) if tags.len() > 1 => return Ok(RemovalPlan::untag_only(vec![tag.clone()])),
        Some(tag) => vec![tag.clone()],
        None if tags.len() > 1 && !force => return Err(Refusal::MultipleTags { image }),
        None => tags,
    };
    if let Some(user) = held_by {
        return match (by_tag, force) {
            (Some(_), true) => Ok(RemovalPlan::untag_only(untag)),
            (Some(tag), false) => Err(Refusal::TagInUse {
                tag: tag.clone(),
                image,
                user: user.clone(),
            }),
            (None, _) => Err(Refusal::ImageInUse {
                image,
                user: user.clone(),
            }),
        };
    }
    if state.images.values().any(|rec| rec.parent == Some(image)) {
        if untag.is_empty() {
            return Err(Refusal::HasChildren { image });
        }
        // Untagged only; the image stays as its children's parent.
        return Ok(RemovalPlan::untag_only(untag));
    }
    Ok(RemovalPlan {
        untag,
        delete: Some(Deletion::of(state, image)),
    })
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
    if let Some((repo, digest)) = name.split_once('@') {
        return resolve_repo_digest(state, repo, digest).ok_or_else(not_found);
    }
    // Not found, a name is told with its tag (`busybox:latest`), as moby's
    // ErrImageDoesNotExist tells it.
    let mut named_not_found = None;
    match Reference::parse(name) {
        Ok(r) => {
            if let Some(id) = state.tags.get(&r) {
                return Ok(*id);
            }
            named_not_found = Some(Error::ImageNotFound(crate::quote::excerpt(&r.to_string(), 128)));
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
    Err(named_not_found.unwrap_or_else(not_found))
}

/// The image pulled as `repo@digest` (a RepoDigest), `repo` in any of
/// its forms (`docker.io/library/busybox` is `busybox`).
fn resolve_repo_digest(state: &State, repo: &str, digest: &str) -> Option<Digest> {
    let digest: Digest = digest.parse().ok()?;
    let repo = Reference::parse(repo).ok()?;
    let wanted = format!("{}@{digest}", repo.name());
    let mut found = state
        .images
        .iter()
        .filter(|(_, rec)| rec.repo_digests.contains(&wanted));
    found.next().map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::super::state::LayerRecord;
    use super::*;
    use crate::layers::image::ImageConfig;

    fn layer(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn reference(name: &str) -> Reference {
        Reference::parse(name).unwrap()
    }

    /// Adds an image with the layers numbered `layers` to `state`; `salt`
    /// tells apart images with the same layers.
    fn add(state: &mut State, salt: &str, layers: &[u8], parent: Option<Digest>, tags: &[&str]) -> Digest {
        let mut config = ImageConfig {
            comment: Some(salt.to_string()),
            ..Default::default()
        };
        config.rootfs.diff_ids = layers.iter().map(|n| layer(*n)).collect();
        let id = Digest::of(&config.to_bytes());
        for diff_id in &config.rootfs.diff_ids {
            let record = LayerRecord {
                diff_id: *diff_id,
                size: 1,
                entries: 1,
            };
            state.layers.insert(*diff_id, record);
        }
        state.images.insert(
            id,
            ImageRecord {
                config,
                parent,
                repo_digests: Default::default(),
            },
        );
        for tag in tags {
            state.tags.insert(reference(tag), id);
        }
        id
    }

    fn plan(state: &State, name: &str, force: bool, held_by: Option<&ImageUser>) -> Result<RemovalPlan, Refusal> {
        let (id, by_tag) = named_for_removal(state, name).unwrap();
        plan_removal(state, id, by_tag.as_ref(), force, held_by)
    }

    fn layers_of(state: &State) -> Vec<Digest> {
        state.layers.keys().copied().collect()
    }

    #[test]
    fn a_layer_shared_by_two_images_survives_removing_one() {
        let mut state = State::default();
        let a = add(&mut state, "a", &[1, 2], None, &["a"]);
        let b = add(&mut state, "b", &[1, 3], None, &["b"]);
        let removing_a = plan(&state, "a", false, None).unwrap();
        let deletion = removing_a.delete.clone().unwrap();
        assert_eq!(deletion.image, a);
        assert_eq!(deletion.layers, vec![layer(2)]);
        assert_eq!(deletion.chain, chain::chain_id(&[layer(1), layer(2)]));
        let after = state.after(&removing_a);
        assert_eq!(after.images.keys().copied().collect::<Vec<_>>(), vec![b]);
        let mut kept = vec![layer(1), layer(3)];
        kept.sort();
        assert_eq!(layers_of(&after), kept);
        // The last image takes every layer left with it.
        let removing_b = plan(&after, "b", false, None).unwrap();
        let mut gone = removing_b.delete.clone().unwrap().layers;
        gone.sort();
        assert_eq!(gone, kept);
        assert!(after.after(&removing_b).layers.is_empty());
    }

    #[test]
    fn a_chain_index_stays_while_another_image_has_the_same_layers() {
        let mut state = State::default();
        add(&mut state, "first", &[1, 2], None, &["first"]);
        add(&mut state, "second", &[1, 2], None, &["second"]);
        let removing_first = plan(&state, "first", false, None).unwrap();
        let deletion = removing_first.delete.clone().unwrap();
        assert_eq!(deletion.chain, None);
        assert!(deletion.layers.is_empty());
        let after = state.after(&removing_first);
        let removing_second = plan(&after, "second", false, None).unwrap();
        assert_eq!(
            removing_second.delete.unwrap().chain,
            chain::chain_id(&[layer(1), layer(2)])
        );
    }

    #[test]
    fn a_tag_goes_alone_unless_it_is_the_image_last() {
        let mut state = State::default();
        let id = add(&mut state, "x", &[1], None, &["x:1", "y:2"]);
        let first = plan(&state, "x:1", false, None).unwrap();
        assert_eq!(first.removals(), vec![Removal::Untagged(reference("x:1"))]);
        let after = state.after(&first);
        assert!(after.images.contains_key(&id));
        assert_eq!(layers_of(&after), vec![layer(1)]);
        let last = plan(&after, "y:2", false, None).unwrap();
        assert_eq!(
            last.removals(),
            vec![Removal::Untagged(reference("y:2")), Removal::Deleted(id)]
        );
        let empty = after.after(&last);
        assert!(empty.images.is_empty() && empty.tags.is_empty() && empty.layers.is_empty());
    }

    #[test]
    fn an_id_naming_an_image_with_several_tags_needs_force() {
        let mut state = State::default();
        let id = add(&mut state, "x", &[1], None, &["x:1", "y:2"]);
        assert_eq!(
            plan(&state, &id.hex(), false, None),
            Err(Refusal::MultipleTags { image: id })
        );
        let forced = plan(&state, &id.hex(), true, None).unwrap();
        assert_eq!(
            forced.removals(),
            vec![
                Removal::Untagged(reference("x:1")),
                Removal::Untagged(reference("y:2")),
                Removal::Deleted(id)
            ]
        );
    }

    #[test]
    fn an_image_a_container_uses_is_never_deleted() {
        let mut state = State::default();
        let id = add(&mut state, "held", &[1], None, &["held"]);
        let user = ImageUser::Container {
            id: "0123456789ab".into(),
            running: true,
        };
        for force in [false, true] {
            assert_eq!(
                plan(&state, &id.hex(), force, Some(&user)),
                Err(Refusal::ImageInUse {
                    image: id,
                    user: user.clone()
                })
            );
        }
        assert_eq!(
            plan(&state, "held", false, Some(&user)),
            Err(Refusal::TagInUse {
                tag: reference("held"),
                image: id,
                user: user.clone()
            })
        );
        // Forced, its last tag goes and the image stays for the container.
        let forced = plan(&state, "held", true, Some(&user)).unwrap();
        assert_eq!(forced, RemovalPlan::untag_only(vec![reference("held")]));
        assert!(state.after(&forced).images.contains_key(&id));
    }

    #[test]
    fn an_image_with_children_loses_its_tags_but_stays() {
        let mut state = State::default();
        let parent = add(&mut state, "parent", &[1], None, &["parent"]);
        let child = add(&mut state, "child", &[1, 2], Some(parent), &["child"]);
        let untagging = plan(&state, "parent", false, None).unwrap();
        assert_eq!(untagging, RemovalPlan::untag_only(vec![reference("parent")]));
        let after = state.after(&untagging);
        assert_eq!(
            plan(&after, &parent.hex(), true, None),
            Err(Refusal::HasChildren { image: parent })
        );
        // The child goes with its own layer only: the parent still needs 1.
        let removing_child = plan(&after, "child", false, None).unwrap();
        let deletion = removing_child.delete.unwrap();
        assert_eq!((deletion.image, deletion.layers), (child, vec![layer(2)]));
    }
}
