"""GI_P3A: an oral NSAID for a patient aged 65 or over, without gastroprotection.

PINCER indicator GI_P3A (national PINCER set, PRIMIS; OpenSAFELY ``indicator_a``): prescription
of an oral NSAID to a patient aged 65 or over who has not been co-prescribed an ulcer-healing
drug. Older age is an independent risk factor for NSAID-induced peptic ulcer and bleeding, and a
proton pump inhibitor (PPI) or H2-receptor antagonist reduces it.

Adapted to one discharge message (see ``tcam_bridge.core.clinical``):

* the audit date is the discharge date, and age is the age on that date (a patient with no
  birth date is not assessable, but only when an unprotected NSAID is prescribed: otherwise the
  rule could not fire whatever the age);
* "prescribed in the previous 3 months" becomes "prescribed at discharge": on the discharge list,
  or active before admission and not marked stopped by the hospital (it may still be taken from
  supplies at home);
* gastroprotection is any PPI or H2 antagonist prescribed in the same sense (PINCER list
  pincer/ppi, class ``ulcer-healing``), at any dose. Misoprostol does not count: Arthrotec
  (diclofenac/misoprostol) is in the NSAID list only, so a patient on it alone is flagged, as in
  PINCER. NSAID+PPI combinations (Vimovo, Axorid) are in both lists and never flag.

Oral NSAID: the pincer/nsaid list without its few non-oral items. A medicine matched by name only
(no code, or a code not in the list) is not counted when its name says it is a gel, cream, eye
drop or other non-oral form: an ibuprofen gel is not an oral NSAID.

Severity MODERATE: a recognised, avoidable risk that the community pharmacist should raise with
the prescriber and the patient, but age alone is a weaker risk factor than a past ulcer or bleed,
and a short NSAID course may be a deliberate choice.

This module also holds the small helpers the other GI_P3 rules share.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tcam_bridge.core import clinical
from tcam_bridge.core.clinical import Prescribed, prescribed_in
from tcam_bridge.core.finding import Finding, FindingSeverity
from tcam_bridge.core.rule import Context, NotAssessable, RuleMeta, RuleResult

META = RuleMeta(
    id="GI_P3A",
    version="1.0.0",
    title="NSAID without gastroprotection in a patient aged 65 or over",
    severity=FindingSeverity.MODERATE,
    rationale=(
        "Oral NSAIDs cause peptic ulcers and gastrointestinal bleeding, and the risk rises with "
        "age; in people aged 65 or over PINCER expects a PPI or H2 antagonist alongside."
    ),
    source=(
        "PINCER GI_P3A (PRIMIS national PINCER indicators; OpenSAFELY pincer-measures "
        "indicator_a); code lists pincer/nsaid/23edd06e, pincer/ppi/3cfd43a3 (OpenCodelists)."
    ),
)

AGE_THRESHOLD = 65

# --- Shared by the GI_P3 rules ----------------------------------------------------------------

NO_GASTROPROTECTION = "No PPI or H2 antagonist prescribed"

# Forms that are not taken by mouth, for medicines matched by name only (the code list's own
# non-oral items are already dropped when the list is loaded).
_NON_ORAL = re.compile(
    r"\b(gel|cream|foam|spray|patch|plaster|eye|ear|topical|ointment|suppositor|rectal"
    r"|injection|infusion|mouthwash|lozenge|medicated)",
    re.IGNORECASE,
)
_MISOPROSTOL = re.compile(r"misoprostol|arthrotec", re.IGNORECASE)


def oral_nsaids(ctx: Context) -> list[Prescribed]:
    """Prescribed oral NSAIDs; name-only matches in a non-oral form (gels, eye drops) dropped."""
    return [
        p
        for p in prescribed_in(ctx, "oral-nsaid")
        if p.match.verified or not _NON_ORAL.search(p.change.medicine.name)
    ]


def gastroprotection(ctx: Context) -> list[Prescribed]:
    """Prescribed PPIs and H2 antagonists (PINCER "ulcer-healing drugs"; not misoprostol)."""
    return prescribed_in(ctx, "ulcer-healing")


def described(items: Iterable[Prescribed]) -> str:
    """The medicines' names for a sentence, noting any left off the list but not stopped."""
    parts: list[str] = []
    for p in items:
        name = p.change.medicine.name
        if not p.change.active_at_discharge:
            name += (
                " (taken before admission; not on the discharge list but not marked stopped, "
                "so it may still be taken)"
            )
        if name not in parts:
            parts.append(name)
    return joined(parts)


def names(items: Iterable[Prescribed]) -> str:
    """The medicines' names, joined for a sentence."""
    return joined(dict.fromkeys(p.change.medicine.name for p in items))


def plural(items: Sequence[Prescribed], one: str, many: str) -> str:
    """``one`` for a single medicine, ``many`` for several different ones."""
    return one if len({p.change.medicine.name for p in items}) <= 1 else many


def joined(words: Iterable[str]) -> str:
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def medicine_evidence(items: Iterable[Prescribed]) -> tuple[str, ...]:
    """One line per medicine: how it stands at discharge and how it was recognised."""
    lines: list[str] = []
    for p in items:
        change = p.change
        if change.active_at_discharge:
            status = f"{change.kind.value} on the discharge list"
        else:
            status = "active before admission, not on the discharge list, not marked stopped"
        how = "dm+d code" if p.match.verified else "name only (unverified)"
        lines.append(f"{change.medicine.name}: {status}; matched by {how}")
    return tuple(lines)


def misoprostol_evidence(items: Sequence[Prescribed]) -> tuple[str, ...]:
    """A note when the only 'protection' is misoprostol, which PINCER does not count."""
    with_miso = [p for p in items if _MISOPROSTOL.search(p.change.medicine.name)]
    if not with_miso:
        return ()
    return (
        f"Misoprostol in {names(with_miso)} is not counted as gastroprotection "
        "(PINCER counts only PPIs and H2 antagonists)",
    )


# --- The rule ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NsaidElderlyNoGastroprotection:
    @property
    def meta(self) -> RuleMeta:
        return META

    def evaluate(self, ctx: Context) -> RuleResult:
        nsaids = oral_nsaids(ctx)
        if not nsaids or gastroprotection(ctx):
            return ()
        age = ctx.discharge.patient.age_on(ctx.today)
        if age is None:
            return NotAssessable(
                "An oral NSAID is prescribed without a PPI or H2 antagonist, but the patient's "
                "birth date is not in the message, so age 65 or over cannot be checked."
            )
        if age < AGE_THRESHOLD:
            return ()
        drugs = names(nsaids)
        what = plural(nsaids, "an anti-inflammatory painkiller (NSAID), is", "NSAIDs, are")
        detail = (
            f"{described(nsaids)}, {what} prescribed for a patient aged {age}, with no PPI "
            "(such as omeprazole or lansoprazole) or H2 antagonist to protect the stomach. At "
            "65 or over, NSAIDs carry a higher risk of stomach ulcers and bleeding."
        )
        are = plural(nsaids, "is", "are")
        action = (
            f"Check with the prescriber whether {drugs} {are} still needed and, if so, whether a "
            "PPI should be added, or whether paracetamol or a topical NSAID would do. Advise the "
            "patient not to buy NSAIDs such as ibuprofen or high-dose aspirin over the counter, "
            "and to seek help urgently for black stools, vomiting blood or stomach pain."
        )
        return (
            Finding(
                rule_id=META.id,
                rule_version=META.version,
                severity=META.severity,
                title=META.title,
                detail=detail,
                action=action,
                implicated=tuple(p.implicated for p in nsaids),
                evidence=(
                    f"Age {age} on {ctx.today.isoformat()}",
                    *medicine_evidence(nsaids),
                    NO_GASTROPROTECTION,
                    *misoprostol_evidence(nsaids),
                ),
                act_code="AGE",
                unverified=clinical.unverified(nsaids),
            ),
        )
