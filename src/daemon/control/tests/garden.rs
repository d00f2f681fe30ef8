//! The walled garden's control side: a refused login comes in gardened with
//! the garden plugin, is not found by name, and `ungarden` (renamed) lets it
//! out with the data plane told at once.

use super::*;

fn last_policy(b: &Bench) -> crate::dataplane::policy::SessionPolicy {
    upserts(&b.table).last().expect("an upsert").policy
}

#[test]
fn a_refused_login_comes_in_gardened_and_ungarden_renames_it() {
    let mut b = Bench::new("wrong");
    let garden = crate::plugins::create("garden").expect("the garden plugin");
    b.cp.load_boxed_plugin(b.now, garden);
    b.come_up();
    assert!(last_policy(&b).garden, "in the data plane gardened");
    assert_eq!(b.cp.stats.auth_rejected, 0, "let in, not refused");

    // Not found by name (l2tpns's sessionbyuser skips gardened sessions).
    let by_name = |b: &mut Bench, user: &str| {
        b.cp.execute(
            b.now,
            Origin::Signal("test"),
            Command::Garden {
                target: Target::User(user.into()),
                garden: false,
                rename: None,
            },
        )
    };
    assert!(!by_name(&mut b, "alice").is_done());

    let k = upserts(&b.table).last().unwrap().key;
    let out = b.cp.execute(
        b.now,
        Origin::Signal("test"),
        Command::Garden {
            target: Target::Session(k),
            garden: false,
            rename: Some("bob".into()),
        },
    );
    assert!(out.is_done(), "{out:?}");
    b.exchange();
    assert!(!last_policy(&b).garden, "the data plane heard at once");
    // Found by its new name now, and not in the garden twice.
    let again = b.cp.execute(
        b.now,
        Origin::Signal("test"),
        Command::Garden {
            target: Target::User("bob".into()),
            garden: false,
            rename: None,
        },
    );
    assert_eq!(
        again,
        super::super::command::Reply::Refused("not in walled garden".into())
    );
    // Back in by name.
    let back = b.cp.execute(
        b.now,
        Origin::Signal("test"),
        Command::Garden {
            target: Target::User("bob".into()),
            garden: true,
            rename: None,
        },
    );
    assert!(back.is_done(), "{back:?}");
    b.exchange();
    assert!(last_policy(&b).garden);
    assert!(
        !by_name(&mut b, "bob").is_done(),
        "gardened: not found by name"
    );
}
