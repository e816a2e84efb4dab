"""Drug classes and concept sets: which medicines, conditions and tests a rule is about.

A medicine belongs to a drug class by dm+d code (a verified match) or, failing that, by an
ingredient or brand name in its text (an unverified match, reported as such). Conditions and
tests belong to a concept set by SNOMED CT code only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from tcam_bridge.core.medicine import Medicine

NAME_MEMO_LIMIT = 4096  # names remembered per drug class, then start over (bounded memory)


@dataclass(frozen=True, slots=True)
class ClassMatch:
    ingredient: str
    verified: bool  # True: matched by dm+d code; False: matched by name only


@dataclass(frozen=True)
class DrugClass:
    name: str
    codes: Mapping[str, str]  # dm+d id -> ingredient
    names: Mapping[str, str]  # lower-case ingredient or brand name -> ingredient
    # The same narrowing the class's code list got (e.g. no gels in "oral-nsaid"), applied to
    # a name match too.
    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None

    @cached_property
    def _name_pattern(self) -> re.Pattern[str] | None:
        if not self.names:
            return None
        words = sorted(self.names, key=len, reverse=True)
        return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b")

    @cached_property
    def _by_name(self) -> dict[str, ClassMatch | None]:
        # Memo of name matches: every rule asks every medicine, and names repeat across
        # messages. Bounded; a pure function of the name, so it changes no result.
        return {}

    def match(self, medicine: Medicine) -> ClassMatch | None:
        if medicine.code is not None and medicine.code.code in self.codes:
            return ClassMatch(self.codes[medicine.code.code], verified=True)
        memo = self._by_name
        name = medicine.name
        if name in memo:
            return memo[name]
        if len(memo) >= NAME_MEMO_LIMIT:
            memo.clear()
        found = memo[name] = self._match_name(name.lower())
        return found

    def _match_name(self, name: str) -> ClassMatch | None:
        pattern = self._name_pattern
        found = pattern.search(name) if pattern else None
        if found is None:
            return None
        if (self.include and not self.include.search(name)) or (
            self.exclude and self.exclude.search(name)
        ):
            return None
        return ClassMatch(self.names[found.group(1)], verified=False)


@dataclass(frozen=True)
class DrugClasses:
    """Every drug class and SNOMED CT concept set the rules use, by name."""

    by_name: Mapping[str, DrugClass]
    concepts: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> DrugClass:
        return self.by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def concept(self, name: str) -> frozenset[str]:
        return self.concepts[name]
