//! The event bus: what happened to containers, images, volumes and
//! networks, as Docker's `/events` reports it (moby's `daemon/events`).
//!
//! Two parts, under one lock so that no event falls between them or shows
//! twice: a journal of the last [`JOURNAL_LIMIT`] events (what `since`
//! replays), and a broadcast to the live subscribers. Docker keeps 256
//! events; 1000 here, about 400 kB at most, lets a `--since` a few minutes
//! back on a busy daemon still see its whole window. A subscriber that
//! falls more than [`LIVE_BUFFER`] events behind loses the oldest ones (as
//! a slow Docker subscriber does after 100 ms): publishing never waits for
//! anyone, and the memory a subscriber costs is bounded by the broadcast's
//! ring, shared by all of them.
//!
//! An event is published once its operation has succeeded, by the code
//! that did it; [`EventFilter`] is Docker's `filters` for `/events`.

use super::error::Error;
use super::networks::{NetworkInfo, PREDEFINED};
use super::record::Record;
use super::{Container, Engine};
use crate::layers::reference::Reference;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The events kept for `since`.
pub const JOURNAL_LIMIT: usize = 1000;
/// How far behind the live events a subscriber may fall before it loses
/// some (Docker's `bufferSize`).
pub const LIVE_BUFFER: usize = 1024;

/// What an event is about (Docker's `Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Container,
    Image,
    Volume,
    Network,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Image => "image",
            Kind::Volume => "volume",
            Kind::Network => "network",
        }
    }
}

/// One event, as moby's `events.Message` without its deprecated copies.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: Kind,
    /// `create`, `die`, `exec_start: sh -c …`.
    pub action: String,
    /// The actor's ID (a container's, an image's, a volume's name).
    pub id: String,
    pub attributes: BTreeMap<String, String>,
    /// Nanoseconds since the epoch.
    pub time_nanos: i64,
}

impl Event {
    pub fn time_secs(&self) -> i64 {
        self.time_nanos.div_euclid(1_000_000_000)
    }
}

/// The journal and the live subscribers.
pub struct Events {
    journal: Mutex<VecDeque<Arc<Event>>>,
    live: broadcast::Sender<Arc<Event>>,
    limit: usize,
}

impl Default for Events {
    fn default() -> Events {
        Events::with_limits(JOURNAL_LIMIT, LIVE_BUFFER)
    }
}

fn now_nanos() -> i64 {
    let (s, n) = crate::time::now();
    s.saturating_mul(1_000_000_000).saturating_add(i64::from(n))
}

impl Events {
    pub fn with_limits(journal: usize, live: usize) -> Events {
        Events {
            journal: Mutex::new(VecDeque::with_capacity(journal)),
            live: broadcast::channel(live.max(1)).0,
            limit: journal.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Event>>> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an event that happened now and hands it to every live
    /// subscriber (never waiting for one).
    pub fn publish(
        &self,
        kind: Kind,
        action: impl Into<String>,
        id: impl Into<String>,
        attributes: BTreeMap<String, String>,
    ) {
        let (action, id) = (action.into(), id.into());
        tracing::debug!(kind = kind.as_str(), %action, %id, "event");
        let mut journal = self.lock();
        // Stamped under the lock: the journal is in time order.
        let event = Arc::new(Event {
            kind,
            action,
            id,
            attributes,
            time_nanos: now_nanos(),
        });
        if journal.len() == self.limit {
            journal.pop_front();
        }
        journal.push_back(event.clone());
        // An error only says no one listens.
        let _ = self.live.send(event);
    }

    /// The journal's events between `since` and `until` (nanoseconds,
    /// inclusive) that pass `filter`, and the live events from then on.
    /// With neither bound, no past events (as Docker).
    pub fn subscribe(&self, since: Option<i64>, until: Option<i64>, filter: EventFilter) -> Subscription {
        let journal = self.lock();
        let past = if since.is_none() && until.is_none() {
            Vec::new()
        } else {
            journal
                .iter()
                .filter(|e| since.is_none_or(|s| e.time_nanos >= s) && until.is_none_or(|u| e.time_nanos <= u))
                .filter(|e| filter.matches(e))
                .cloned()
                .collect()
        };
        let live = self.live.subscribe();
        drop(journal);
        Subscription { past, live, filter }
    }

    /// How many subscribers are listening now.
    pub fn subscribers(&self) -> usize {
        self.live.receiver_count()
    }

    /// How many events the journal holds.
    pub fn journal_len(&self) -> usize {
        self.lock().len()
    }
}

/// A subscriber: the past events that matched, then the live ones.
/// Dropping it unsubscribes.
pub struct Subscription {
    pub past: Vec<Arc<Event>>,
    live: broadcast::Receiver<Arc<Event>>,
    filter: EventFilter,
}

impl Subscription {
    /// The next live event that passes the filter; `None` once the bus
    /// is gone. Events lost by falling behind are skipped (and logged).
    pub async fn next(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.live.recv().await {
                Ok(e) if self.filter.matches(&e) => return Some(e),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("an events subscriber fell behind and lost {n} events");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Engine {
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// A container's event: its labels, its image as the user named it
    /// and its name, with `extra` (moby's `LogContainerEventWithAttributes`).
    pub(super) fn container_event(&self, record: &Record, action: &str, extra: &[(&str, String)]) {
        let mut attributes = record.config.labels.clone().unwrap_or_default();
        if !record.config.image.is_empty() {
            attributes.insert("image".into(), record.config.image.clone());
        }
        attributes.insert("name".into(), record.name.clone());
        attributes.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self.events
            .publish(Kind::Container, action, record.id.clone(), attributes);
    }

    /// [`Engine::container_event`] of `c`'s current record (`c` unlocked).
    pub(super) fn event_of(&self, c: &Container, action: &str, extra: &[(&str, String)]) {
        let record = c.record();
        self.container_event(&record, action, extra);
    }

    /// A client attached to `c`'s streams (Docker's `attach`).
    pub fn attached(&self, c: &Container) {
        self.event_of(c, "attach", &[]);
    }

    /// An image's event: the image's labels (when it is still there) and
    /// `name` (moby's `LogImageEvent`; Docker names a removed image by
    /// its ID).
    pub fn image_event(&self, action: &str, id: &str, name: &str) {
        let mut attributes = self
            .store
            .image(id)
            .ok()
            .and_then(|i| i.config.config.labels.clone())
            .unwrap_or_default();
        if !name.is_empty() {
            attributes.insert("name".into(), name.to_string());
        }
        self.events.publish(Kind::Image, action, id, attributes);
    }

    pub(super) fn volume_event(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attributes = BTreeMap::from([("driver".to_string(), "local".to_string())]);
        attributes.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self.events.publish(Kind::Volume, action, name, attributes);
    }

    /// `connect` or `disconnect` of a container's run on each network it
    /// is on: its mode's predefined one (`bridge`, `host`, `none`) and its
    /// user networks.
    pub(super) fn network_events(&self, record: &Record, action: &str) {
        let mode = match record.host_config.network_mode.as_str() {
            "" | "default" => "bridge",
            m => m,
        };
        let predefined = PREDEFINED.iter().any(|(n, _)| *n == mode).then_some(mode);
        let names = predefined
            .into_iter()
            .chain(record.networks.values().map(|a| a.network.as_str()));
        for name in names {
            if let Ok(net) = self.networks.get(name) {
                self.network_event(action, &net, Some(&record.id));
            }
        }
    }

    /// A network's event: its name and driver, and the container of a
    /// connect or disconnect.
    pub(super) fn network_event(&self, action: &str, net: &NetworkInfo, container: Option<&str>) {
        let mut attributes = BTreeMap::from([
            ("name".to_string(), net.name.clone()),
            ("type".to_string(), net.driver.clone()),
        ]);
        if let Some(id) = container {
            attributes.insert("container".into(), id.to_string());
        }
        self.events.publish(Kind::Network, action, net.id.clone(), attributes);
    }
}

/// The keys Docker's event filter reads (moby's `events.Filter.Include`).
const KEYS: [&str; 14] = [
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
];

/// The keys whose values match an actor's ID or name by prefix.
const NAME_KEYS: [&str; 9] = [
    "config",
    "container",
    "daemon",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "volume",
];

/// Docker's event filter: every key must hold; a key's values are
/// alternatives, but for `label`, whose values must all hold.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    keys: BTreeMap<String, Vec<String>>,
}

impl EventFilter {
    /// A filter from the query's `filters`; a key Docker would not read is
    /// refused rather than ignored (Docker ignores it and matches all).
    pub fn parse(filters: &BTreeMap<String, Vec<String>>) -> Result<EventFilter, Error> {
        if let Some(key) = filters.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(Error::invalid(format!(
                "invalid filter '{}'",
                crate::quote::excerpt(key, 64)
            )));
        }
        Ok(EventFilter {
            keys: filters
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    fn values(&self, key: &str) -> Option<&[String]> {
        self.keys.get(key).map(Vec::as_slice)
    }

    /// Go's `filters.Args.ExactMatch`: no values, or one equal.
    fn exact(&self, key: &str, source: &str) -> bool {
        self.values(key).is_none_or(|vs| vs.iter().any(|v| v == source))
    }

    /// `FuzzyMatch`: exact, or a value is a prefix of `source`.
    fn fuzzy(&self, key: &str, source: &str) -> bool {
        self.values(key)
            .is_none_or(|vs| vs.iter().any(|v| source.starts_with(v.as_str())))
    }

    pub fn matches(&self, e: &Event) -> bool {
        let name = e.attributes.get("name").map(String::as_str).unwrap_or("");
        self.matches_action(&e.action)
            && self.exact("type", e.kind.as_str())
            && self.exact("scope", "local")
            && NAME_KEYS.iter().all(|k| self.fuzzy(k, &e.id) || self.fuzzy(k, name))
            && self.matches_image(e)
            && self.matches_labels(&e.attributes)
    }

    /// `event=`: exact, but `exec_create`, `exec_start` and
    /// `health_status` among the values make every value a prefix (moby
    /// #25798: their actions carry the command after a colon).
    fn matches_action(&self, action: &str) -> bool {
        let prefixed = self.values("event").is_some_and(|vs| {
            vs.iter()
                .any(|v| matches!(v.as_str(), "exec_create" | "exec_start" | "health_status"))
        });
        if prefixed {
            self.fuzzy("event", action)
        } else {
            self.exact("event", action)
        }
    }

    /// `image=`: the image's ID or name (an image event's), or a
    /// container's image, as given or without its tag.
    fn matches_image(&self, e: &Event) -> bool {
        let attribute = if e.kind == Kind::Image { "name" } else { "image" };
        let name = e.attributes.get(attribute).map(String::as_str).unwrap_or("");
        let untagged = |s: &str| {
            Reference::parse(s)
                .map(|r| r.name().to_string())
                .unwrap_or_else(|_| s.to_string())
        };
        self.exact("image", &e.id)
            || self.exact("image", name)
            || self.exact("image", &untagged(&e.id))
            || self.exact("image", &untagged(name))
    }

    /// `label=KEY` or `label=KEY=VALUE`, each of them held by the
    /// attributes (Go's `MatchKVList`).
    fn matches_labels(&self, attributes: &BTreeMap<String, String>) -> bool {
        let Some(wanted) = self.values("label") else {
            return true;
        };
        wanted.iter().all(|w| match w.split_once('=') {
            Some((k, v)) => attributes.get(k).is_some_and(|x| x == v),
            None => attributes.contains_key(w.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn event(kind: Kind, action: &str, id: &str, pairs: &[(&str, &str)]) -> Event {
        Event {
            kind,
            action: action.into(),
            id: id.into(),
            attributes: attrs(pairs),
            time_nanos: 0,
        }
    }

    fn filter(pairs: &[(&str, &str)]) -> EventFilter {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            map.entry(k.to_string()).or_default().push(v.to_string());
        }
        EventFilter::parse(&map).unwrap()
    }

    #[test]
    fn filters_match_as_mobys() {
        let start = event(
            Kind::Container,
            "start",
            "abcdef0123",
            &[("name", "web"), ("image", "busybox:latest"), ("tier", "front")],
        );
        let tag = event(Kind::Image, "tag", "sha256:1234", &[("name", "busybox:mine")]);
        let exec = event(
            Kind::Container,
            "exec_start: sh -c true",
            "abcdef0123",
            &[("name", "web")],
        );
        let m = |f: &[(&str, &str)], e: &Event| filter(f).matches(e);
        assert!(m(&[], &start));
        assert!(m(&[("type", "container")], &start) && !m(&[("type", "image")], &start));
        assert!(m(&[("type", "image"), ("type", "container")], &start));
        assert!(m(&[("event", "start")], &start) && !m(&[("event", "die")], &start));
        assert!(!m(&[("event", "exec_start: sh")], &exec));
        assert!(m(&[("event", "exec_start")], &exec));
        // Containers by name or ID, and by prefix (FuzzyMatch).
        for c in ["web", "we", "abcdef0123", "abc"] {
            assert!(m(&[("container", c)], &start), "{c}");
        }
        assert!(!m(&[("container", "other")], &start));
        // As moby: a name filter is not limited to its own type.
        assert!(m(&[("volume", "web")], &start));
        // Images: the container's image as given or untagged; an image
        // event's ID or name.
        assert!(m(&[("image", "busybox")], &start));
        assert!(m(&[("image", "busybox:latest")], &start));
        assert!(!m(&[("image", "alpine")], &start));
        assert!(m(&[("image", "busybox")], &tag) && m(&[("image", "sha256:1234")], &tag));
        // Labels: each must hold.
        assert!(m(&[("label", "tier")], &start) && m(&[("label", "tier=front")], &start));
        assert!(!m(&[("label", "tier=back")], &start));
        assert!(!m(&[("label", "tier"), ("label", "nope")], &start));
        assert!(!m(&[("label", "tier")], &tag));
        assert!(m(&[("scope", "local")], &start) && !m(&[("scope", "swarm")], &start));
        assert!(m(
            &[("type", "container"), ("event", "start"), ("container", "web")],
            &start
        ));
        assert!(!m(
            &[("type", "container"), ("event", "start"), ("container", "x")],
            &start
        ));
    }

    #[test]
    fn unknown_filter_keys_are_refused() {
        let map = BTreeMap::from([("nope".to_string(), vec!["x".to_string()])]);
        let e = EventFilter::parse(&map).unwrap_err();
        assert_eq!(e.to_string(), "invalid filter 'nope'");
        assert!(matches!(e, Error::InvalidArgument(_)));
    }

    #[test]
    fn the_journal_is_bounded_and_replayed_in_order() {
        let bus = Events::with_limits(5, 4);
        for i in 0..12 {
            bus.publish(Kind::Volume, "create", format!("v{i}"), BTreeMap::new());
        }
        assert_eq!(bus.journal_len(), 5);
        let sub = bus.subscribe(Some(0), None, EventFilter::default());
        let ids: Vec<&str> = sub.past.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["v7", "v8", "v9", "v10", "v11"]);
        // No bounds: no past events.
        assert!(bus.subscribe(None, None, EventFilter::default()).past.is_empty());
        // `until` before them all: none.
        assert!(bus.subscribe(None, Some(1), EventFilter::default()).past.is_empty());
    }

    #[tokio::test]
    async fn subscribers_get_live_events_lose_the_oldest_when_behind_and_leave() {
        let bus = Events::with_limits(5, 4);
        let mut sub = bus.subscribe(None, None, filter(&[("event", "create")]));
        let mut other = bus.subscribe(None, None, EventFilter::default());
        assert_eq!(bus.subscribers(), 2);
        bus.publish(Kind::Volume, "destroy", "skipped", BTreeMap::new());
        bus.publish(Kind::Volume, "create", "a", BTreeMap::new());
        assert_eq!(sub.next().await.unwrap().id, "a");
        // `other` never reads: publishing goes on, and it keeps the last 4.
        for i in 0..100 {
            bus.publish(Kind::Volume, "create", format!("n{i}"), BTreeMap::new());
        }
        assert_eq!(other.next().await.unwrap().id, "n96");
        drop(sub);
        drop(other);
        assert_eq!(bus.subscribers(), 0);
    }
}
