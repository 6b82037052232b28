//! A Takeout sidecar as the manifest keeps it (`sidecar` lines), and back: the bridge between
//! the Takeout's [`Sidecar`] and the library's [`StoredSidecar`], which knows nothing of it.

use crate::library::manifest::StoredSidecar;
use crate::metadata::Geo;
use crate::takeout::sidecar::{Sidecar, SidecarExtras};

/// What `s` says, as a `sidecar` line keeps it. Coordinates become text in Rust's shortest
/// exact form, so that [`restore`] reads them back bit for bit.
pub(crate) fn store(s: &Sidecar) -> StoredSidecar {
    let extras = s.extras();
    StoredSidecar {
        title: s.title().map(String::from),
        description: extras.description.clone(),
        taken: s.taken(),
        created: s.created(),
        geo: s.geo().map(|g| {
            (
                g.lat.to_string(),
                g.lon.to_string(),
                g.alt.map(|a| a.to_string()),
            )
        }),
        people: extras.people.clone(),
        favorited: extras.favorited,
        archived: extras.archived,
        trashed: extras.trashed,
        moved: extras.moved,
        partner: extras.partner,
        problems: extras.problems.clone(),
    }
}

/// The sidecar a `sidecar` line keeps; `None` when its coordinates are not numbers (an edited
/// line).
pub(crate) fn restore(stored: &StoredSidecar) -> Option<Sidecar> {
    let geo = match &stored.geo {
        None => None,
        Some((lat, lon, alt)) => Some(Geo {
            lat: lat.parse().ok()?,
            lon: lon.parse().ok()?,
            alt: match alt {
                Some(a) => Some(a.parse().ok()?),
                None => None,
            },
        }),
    };
    let mut sidecar = Sidecar::new(
        stored.title.as_deref().map(Into::into),
        stored.taken,
        stored.created,
        geo,
    );
    sidecar.set_extras(SidecarExtras {
        description: stored.description.clone(),
        people: stored.people.clone(),
        favorited: stored.favorited,
        archived: stored.archived,
        trashed: stored.trashed,
        moved: stored.moved,
        partner: stored.partner,
        problems: stored.problems.clone(),
    });
    Some(sidecar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sidecar_stored_and_restored_is_the_same_bit_for_bit() {
        let geo = Geo {
            lat: 0.1 + 0.2,
            lon: -122.419_415_5,
            alt: Some(1e-7),
        };
        let mut sidecar = Sidecar::new(Some("b.jpg".into()), Some(-1_000), None, Some(geo));
        sidecar.set_extras(SidecarExtras {
            description: Some("Dusk".into()),
            people: vec!["Ann".into()],
            favorited: true,
            archived: true,
            trashed: true,
            moved: true,
            partner: true,
            problems: vec!["odd".into()],
        });
        let stored = store(&sidecar);
        let line = serde_json::to_string(&stored).unwrap();
        let back = restore(&serde_json::from_str(&line).unwrap()).unwrap();
        assert_eq!(back, sidecar);
        assert_eq!(back.geo().unwrap().lat.to_bits(), (0.1f64 + 0.2).to_bits());
        assert_eq!(back.description(), Some("Dusk"));
        assert!(back.favorited() && back.archived() && back.trashed());
    }

    #[test]
    fn a_stored_position_that_is_not_a_number_restores_nothing() {
        let mut stored = store(&Sidecar::new(None, Some(1), None, None));
        assert!(restore(&stored).is_some());
        stored.geo = Some(("north".into(), "1".into(), None));
        assert!(restore(&stored).is_none());
        stored.geo = Some(("1".into(), "1".into(), Some("high".into())));
        assert!(restore(&stored).is_none());
    }
}
