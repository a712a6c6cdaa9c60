//! Line numbers for typed errors. Documents are deserialized from a JSON value
//! (as the API server does, but values forget positions); only when that fails
//! is the one document deserialized again from its text, to say where.

use std::fmt;

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::documents::Document;
use crate::world::Kind;

/// The error (with its position) from deserializing `document`, or its `item`
/// inside a `kind: List`, from its text as `kind`. `None` when the text
/// deserializes fine: reading YAML straight into a type is more lenient than
/// going through a JSON value (a quoted `"80"` is a number to it).
pub(super) fn locate(
    document: Document<'_>,
    item: Option<usize>,
    kind: Kind,
) -> Option<serde_saphyr::Error> {
    document
        .with_deserializer(|d| match item {
            None => AsKind(kind).deserialize(d),
            Some(item) => ListItem { item, kind }.deserialize(d),
        })
        .err()
}

/// Deserializes one object of a kind, keeping nothing.
struct AsKind(Kind);

impl<'de> DeserializeSeed<'de> for AsKind {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.0 {
            Kind::Ingress => Ingress::deserialize(d).map(drop),
            Kind::IngressClass => IngressClass::deserialize(d).map(drop),
            Kind::Service => Service::deserialize(d).map(drop),
            Kind::EndpointSlice => EndpointSlice::deserialize(d).map(drop),
            Kind::Secret => Secret::deserialize(d).map(drop),
        }
    }
}

/// Deserializes item `item` (1-based) of a List's `items` as `kind`, and
/// skips everything else.
#[derive(Clone, Copy)]
struct ListItem {
    item: usize,
    kind: Kind,
}

impl<'de> DeserializeSeed<'de> for ListItem {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListItem {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a List")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                map.next_value_seed(Items(self))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `items` sequence of a [`ListItem`] search.
struct Items(ListItem);

impl<'de> DeserializeSeed<'de> for Items {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut position = 0;
        loop {
            position += 1;
            let more = if position == self.0.item {
                seq.next_element_seed(AsKind(self.0.kind))?.is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                return Ok(());
            }
        }
    }
}
