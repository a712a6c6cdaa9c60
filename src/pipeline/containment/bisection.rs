//! Finding which of several changed objects Envoy rejects, by publishing the last
//! accepted state plus part of them and halving (O(log n) publishes for one bad
//! object among n). Pure: the caller publishes each trial and reports how every
//! Envoy took it. Assumes a set is rejected exactly when it holds a rejected
//! object (rejections do not depend on combinations), which holds for Envoy's
//! per-resource validation.

use std::collections::BTreeSet;

use crate::world::ObjectRef;

/// Objects tried together.
pub(crate) type Group = Vec<ObjectRef>;

/// What to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Publish with exactly [`Bisection::included`] of the suspects.
    Try,
    /// Every suspect is decided; these are the rejected ones.
    Done(Vec<ObjectRef>),
}

/// The trial in progress.
#[derive(Clone, Debug)]
struct Trial {
    included: Group,
    /// The other half of a group known to be rejected: rejected in turn if this
    /// trial is accepted, undecided if it is rejected.
    rest: Option<Group>,
}

/// One search among suspects.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bisection {
    /// Groups known to hold at least one rejected object.
    rejected: Vec<Group>,
    /// Groups not tried yet.
    untried: Vec<Group>,
    trial: Option<Trial>,
    /// Suspects the error text names: tried first.
    named: BTreeSet<ObjectRef>,
    /// Objects found rejected.
    found: Vec<ObjectRef>,
    /// Trials so far.
    trials: u32,
}

impl Bisection {
    /// A search among `suspects`, which were rejected together; `named` are
    /// those the error names (tried first when they are a strict subset).
    pub(crate) fn new(suspects: Group, named: BTreeSet<ObjectRef>) -> Bisection {
        Bisection {
            rejected: vec![suspects],
            named,
            ..Bisection::default()
        }
    }

    /// Suspects the current trial includes.
    pub(crate) fn included(&self) -> &[ObjectRef] {
        self.trial.as_ref().map_or(&[], |t| &t.included)
    }

    /// Every suspect held back: undecided and not in the current trial, or
    /// found rejected.
    pub(crate) fn held(&self) -> impl Iterator<Item = &ObjectRef> {
        let rest = self.trial.as_ref().and_then(|t| t.rest.as_ref());
        self.rejected
            .iter()
            .chain(&self.untried)
            .chain(rest)
            .flatten()
            .chain(&self.found)
    }

    /// Trials published so far.
    pub(crate) fn trials(&self) -> u32 {
        self.trials
    }

    /// Adds objects changed during the search, to be tried once it is over.
    pub(crate) fn add_untried(&mut self, objects: Group) {
        if !objects.is_empty() {
            self.untried.insert(0, objects);
        }
    }

    /// Takes `object` out of whatever group it is in (it changed again).
    pub(crate) fn remove(&mut self, object: &ObjectRef) {
        let groups = self.rejected.iter_mut().chain(self.untried.iter_mut());
        let trial = self
            .trial
            .iter_mut()
            .flat_map(|t| std::iter::once(&mut t.included).chain(t.rest.as_mut()));
        for group in groups.chain(trial) {
            group.retain(|o| o != object);
        }
    }

    /// The current trial was accepted by every Envoy.
    pub(crate) fn accepted(&mut self) -> Step {
        if let Some(trial) = self.trial.take() {
            if let Some(rest) = trial.rest {
                self.rejected.push(rest);
            }
        }
        self.next()
    }

    /// Some Envoy rejected the current trial.
    pub(crate) fn rejected(&mut self) -> Step {
        if let Some(trial) = self.trial.take() {
            self.rejected.push(trial.included);
            if let Some(rest) = trial.rest {
                self.add_untried(rest);
            }
        }
        self.next()
    }

    /// Decides what can be decided without publishing, then starts a trial.
    pub(crate) fn next(&mut self) -> Step {
        while let Some(mut group) = self.rejected.pop() {
            group.sort();
            group.dedup();
            match group.len() {
                0 => continue,
                1 => {
                    self.found.extend(group);
                    continue;
                }
                _ => {}
            }
            let (named, others): (Group, Group) =
                group.iter().cloned().partition(|o| self.named.contains(o));
            let (included, rest) = if !named.is_empty() && !others.is_empty() {
                (named, others)
            } else {
                let rest = group.split_off(group.len() / 2);
                (group, rest)
            };
            return self.start(included, Some(rest));
        }
        // Everything undecided at once: usually all of it is fine.
        let untried: Group = self.untried.drain(..).flatten().collect();
        if untried.is_empty() {
            return Step::Done(std::mem::take(&mut self.found));
        }
        self.start(untried, None)
    }

    fn start(&mut self, included: Group, rest: Option<Group>) -> Step {
        self.trials += 1;
        self.trial = Some(Trial { included, rest });
        Step::Try
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{Kind, ObjectKey};

    fn refs(n: usize) -> Group {
        (0..n)
            .map(|i| ObjectRef {
                kind: Kind::Ingress,
                key: ObjectKey::new("ns", format!("i{i:03}")),
            })
            .collect()
    }

    /// Runs a search where exactly `bad` are rejected; returns (found, trials).
    fn search(n: usize, bad: &[usize], named: &[usize]) -> (Vec<ObjectRef>, u32) {
        let all = refs(n);
        let bad: BTreeSet<ObjectRef> = bad.iter().map(|&i| all[i].clone()).collect();
        let named = named.iter().map(|&i| all[i].clone()).collect();
        let mut b = Bisection::new(all, named);
        let mut step = b.next();
        loop {
            match step {
                Step::Done(found) => return (found, b.trials()),
                Step::Try => {
                    let rejected = b.included().iter().any(|o| bad.contains(o));
                    step = if rejected { b.rejected() } else { b.accepted() };
                }
            }
            assert!(b.trials() < 1000, "does not terminate");
        }
    }

    #[test]
    fn one_bad_among_many_takes_logarithmic_trials() {
        for (n, bad) in [(2, 1), (100, 49), (1000, 0), (1000, 999), (1024, 500)] {
            let (found, trials) = search(n, &[bad], &[]);
            assert_eq!(found, vec![refs(n)[bad].clone()], "n={n}");
            let bound = (n as f64).log2().ceil() as u32 + 1;
            assert!(trials <= bound, "n={n}: {trials} trials > {bound}");
        }
    }

    #[test]
    fn two_bad_among_64_are_both_found() {
        let (mut found, trials) = search(64, &[3, 40], &[]);
        found.sort();
        assert_eq!(found, vec![refs(64)[3].clone(), refs(64)[40].clone()]);
        assert!(trials <= 2 * 6 + 2, "{trials} trials");
    }

    #[test]
    fn a_named_suspect_is_tried_first() {
        let (found, trials) = search(1000, &[700], &[700]);
        assert_eq!(found, vec![refs(1000)[700].clone()]);
        assert_eq!(trials, 2, "the named object alone, then all the others");
    }

    #[test]
    fn a_single_suspect_needs_no_trial() {
        let (found, trials) = search(1, &[0], &[]);
        assert_eq!((found.len(), trials), (1, 0));
    }

    #[test]
    fn objects_changed_during_the_search_are_tried_after_it() {
        let all = refs(4);
        let mut b = Bisection::new(all[..2].to_vec(), BTreeSet::new());
        assert_eq!(b.next(), Step::Try);
        b.add_untried(all[2..].to_vec());
        assert!(b.held().any(|o| *o == all[3]));
        // The included half was fine: the other one is the culprit (held back
        // from now on), then the late group is tried and accepted.
        assert_eq!(b.accepted(), Step::Try);
        assert!(b.held().any(|o| *o == all[1]));
        assert_eq!(b.included(), &all[2..]);
        assert_eq!(b.accepted(), Step::Done(vec![all[1].clone()]));
    }
}
