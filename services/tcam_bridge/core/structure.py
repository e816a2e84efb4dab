"""A fast FHIR R4 structure check, compiled from the ``fhir.resources`` R4B models.

``Bundle.model_validate`` builds a pydantic object for every element of a message and runs the
library's Python validators on each: about 4 ms for a 20-entry discharge, two thirds of all the
pipeline's work, and the object is thrown away (the mapping reads the JSON). This module reads
the same models once, at first use, and derives from each one a plain description (its elements
and their JSON aliases, which are lists, which are required, its choice-type groups, its
resourceType); it then walks a message's JSON against those descriptions.

The check is *strict*: it accepts only the canonical JSON form of FHIR, and returns ``False``
for anything it is not sure of (a ``null``, an empty array, a ``_element`` primitive extension, a
``fhir_comments`` key, a resource without ``resourceType``, a number where the models would
coerce a string, a structure nested too deep...). The caller then runs ``Bundle.model_validate``,
which gives the verdict and the error messages, exactly as without this module. So:

- every primitive value is checked by the very validator the model uses for that element (a
  pydantic ``TypeAdapter`` built from the element's own annotation: same regex, range, date
  parsing), memoised per distinct value;
- a structure is accepted only if every key is one of the model's element aliases, every
  required element is present, and at most one (exactly one when required) element of each
  choice type ``[x]`` is present.

The property this module must keep: **whatever it accepts, ``Bundle.model_validate`` accepts**.
tests/unit/test_structure.py checks it on every example, on generated workloads and on
Hypothesis mutations of them. A rejection costs nothing but time.
"""

from __future__ import annotations

import datetime as dt
import decimal
import types
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.types import FhirBase, FhirElementOrResourceBase
from pydantic import TypeAdapter, ValidationError

Check = Callable[[Any], bool]
# A shape, a primitive, "resource" (any resource, by resourceType) or "unknown".
_Target = typing.Union["_Shape", "_Primitive", str]
MEMO_LIMIT = 20_000  # distinct primitive values remembered per element type, then start over


def _reject(value: Any) -> bool:
    return False


@dataclass(slots=True)
class _Shape:
    """What one model class allows, by JSON key."""

    name: str
    resource_type: str | None  # the resourceType a resource must carry; None for data types
    elements: dict[str, Check] = field(default_factory=dict)
    kinds: dict[str, tuple[bool, _Target]] = field(default_factory=dict)  # for ``deferral``
    required: tuple[str, ...] = ()
    choices: tuple[tuple[tuple[str, ...], bool], ...] = ()  # (aliases, one required)


class _Primitive:
    """One primitive element type: a JSON type gate, then the model's own validator."""

    __slots__ = ("_adapter", "_json_types", "_memo")

    def __init__(self, annotation: Any, json_types: tuple[type, ...]) -> None:
        self._adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        self._json_types = json_types
        self._memo: dict[tuple[type, Any], bool] = {}

    def __call__(self, value: Any) -> bool:
        kind = type(value)
        if kind not in self._json_types:
            return False
        key = (kind, value)
        verdict = self._memo.get(key)
        if verdict is None:
            try:
                self._adapter.validate_python(value)
                verdict = True
            except (ValidationError, ValueError, TypeError, ArithmeticError):
                verdict = False
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = verdict
        return verdict


# The JSON types a primitive may arrive as, by the Python type its model annotation parses to.
# Anything else (a string for an integer, 1 for a boolean) is left to the models.
_JSON_TYPES: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    bool: (bool,),
    decimal.Decimal: (int, float),
    dt.date: (str,),
    dt.datetime: (str,),
    dt.time: (str,),
    bytes: (str,),
    uuid.UUID: (str,),
}


class StructureCheck:
    """The compiled check for FHIR R4 (R4B models). Build it once; ``accepts`` is pure."""

    def __init__(self) -> None:
        self._shapes: dict[type[FHIRAbstractModel], _Shape] = {}
        self._resources: dict[str, _Shape | None] = {}
        self._primitives: dict[Any, _Primitive] = {}
        self._bundle = self._shape(typing.cast(type[FHIRAbstractModel], _model("Bundle")))

    def accepts(self, data: Any) -> bool:
        """True only if ``Bundle.model_validate(data)`` would succeed (see the module doc)."""
        try:
            return _conforms(self._bundle, data)
        except RecursionError:
            return False

    def deferral(self, data: Any) -> str | None:
        """Where ``accepts`` gives up on ``data`` (a FHIRPath and why), or None if it accepts.

        For tests, benchmarks and diagnosis: says which inputs take the slow path."""
        return _explain(self._bundle, data, "Bundle", self)

    # -- compiling ------------------------------------------------------------------------------

    def _shape(self, cls: type[FHIRAbstractModel]) -> _Shape:
        shape = self._shapes.get(cls)
        if shape is not None:
            return shape
        resource_type = cls.get_resource_type() if cls.has_resource_base() else None
        shape = _Shape(cls.__name__, resource_type)
        self._shapes[cls] = shape  # before the elements: models refer to themselves
        required: list[str] = []
        choices: dict[str, tuple[list[str], bool]] = {}
        for name, info in cls.model_fields.items():
            alias = info.alias or name
            if alias.startswith("_") or name == "fhir_comments":
                continue  # primitive extensions and comments: left to the models
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            shape.elements[alias], shape.kinds[alias] = self._element(info.annotation)
            if info.is_required() or extra.get("element_required") is True:
                required.append(alias)
            group = extra.get("one_of_many")
            if isinstance(group, str):
                members, _ = choices.setdefault(group, ([], False))
                members.append(alias)
                choices[group] = (members, extra.get("one_of_many_required") is True)
        shape.required = tuple(required)
        shape.choices = tuple((tuple(m), req) for m, req in choices.values())
        return shape

    def _element(self, annotation: Any) -> tuple[Check, tuple[bool, _Target]]:
        inner, repeats = _unwrap(annotation)
        one, target = self._single(inner)
        if not repeats:
            return one, (False, target)
        if isinstance(target, _Shape):
            shape = target

            def shapes(value: Any) -> bool:  # the common case, without a call per item
                if type(value) is not list or not value:
                    return False
                for item in value:  # noqa: SIM110 - all(genexpr) is slower on this hot path
                    if not _conforms(shape, item):
                        return False
                return True

            return shapes, (True, target)

        def many(value: Any) -> bool:
            if type(value) is not list or not value:
                return False
            for item in value:  # noqa: SIM110 - all(genexpr) is slower on this hot path
                if not one(item):
                    return False
            return True

        return many, (True, target)

    def _single(self, annotation: Any) -> tuple[Check, _Target]:
        if isinstance(annotation, type) and issubclass(annotation, FhirElementOrResourceBase):
            if annotation.get_model_klass().__name__ == "Resource":
                return self._any_resource, "resource"
            return _reject, "unknown"  # Element-typed: left to the models
        if isinstance(annotation, type) and issubclass(annotation, FhirBase):
            shape = self._shape(annotation.get_model_klass())
            return partial(_conforms, shape), shape
        if typing.get_origin(annotation) is typing.Annotated or annotation is bool:
            primitive = self._primitive(annotation)
            if primitive is not None:
                return primitive, primitive
        return _reject, "unknown"  # a type this module does not know: the models decide

    def _primitive(self, annotation: Any) -> _Primitive | None:
        check = self._primitives.get(annotation)
        if check is None:
            base = typing.get_args(annotation)[0] if annotation is not bool else bool
            if typing.get_origin(base) in (typing.Union, types.UnionType):
                json_types: tuple[type, ...] | None = (str,)  # url: Union[AnyUrl, str]
            else:
                json_types = _JSON_TYPES.get(base)
            if json_types is None:
                return None
            check = _Primitive(annotation, json_types)
            self._primitives[annotation] = check
        return check

    def _any_resource(self, value: Any) -> bool:
        if type(value) is not dict:
            return False
        name = value.get("resourceType")
        if type(name) is not str:
            return False
        shape = self._resources.get(name, _UNSEEN)
        if shape is _UNSEEN:
            model = _model(name)
            shape = self._shape(model) if model is not None else None
            self._resources[name] = shape
        return shape is not None and _conforms(shape, value)


_UNSEEN = _Shape("unseen", None)


def _conforms(shape: _Shape, value: Any) -> bool:
    if type(value) is not dict:
        return False
    elements = shape.elements
    for key, item in value.items():
        check = elements.get(key)
        if check is None:
            if key == "resourceType" and shape.resource_type is not None:
                continue  # compared below
            return False
        if item is None or not check(item):
            return False
    if shape.resource_type is not None and value.get("resourceType") != shape.resource_type:
        return False
    for key in shape.required:
        if key not in value:
            return False
    for members, one_required in shape.choices:
        present = sum(1 for key in members if key in value)
        if present > 1 or (one_required and present == 0):
            return False
    return True


def _explain(shape: _Shape, value: Any, path: str, check: StructureCheck) -> str | None:
    if type(value) is not dict:
        return f"{path}: not a JSON object"
    for key, item in value.items():
        kind = shape.kinds.get(key)
        if kind is None:
            if key == "resourceType" and shape.resource_type is not None:
                continue
            return f"{path}.{key}: not an element of {shape.name} this check accepts"
        repeats, target = kind
        where = f"{path}.{key}"
        if item is None:
            return f"{where}: null"
        if repeats:
            if type(item) is not list or not item:
                return f"{where}: not a non-empty array"
            for i, one in enumerate(item):
                reason = _explain_one(target, one, f"{where}[{i}]", check)
                if reason:
                    return reason
        else:
            reason = _explain_one(target, item, where, check)
            if reason:
                return reason
    if shape.resource_type is not None and value.get("resourceType") != shape.resource_type:
        return f"{path}.resourceType: not {shape.resource_type}"
    for key in shape.required:
        if key not in value:
            return f"{path}.{key}: required"
    for members, one_required in shape.choices:
        present = sum(1 for key in members if key in value)
        if present > 1 or (one_required and present == 0):
            return f"{path}: choice {'/'.join(members)} present {present} times"
    return None


def _explain_one(target: _Target, value: Any, path: str, check: StructureCheck) -> str | None:
    if isinstance(target, _Shape):
        return _explain(target, value, path, check)
    if isinstance(target, _Primitive):
        return None if target(value) else f"{path}: primitive value not accepted"
    if target == "resource":
        if not check._any_resource(value):
            name = value.get("resourceType") if type(value) is dict else None
            shape = check._resources.get(name) if type(name) is str else None
            if shape is None:
                return f"{path}: not a resource with a known resourceType"
            return _explain(shape, value, f"{path}({name})", check)
        return None
    return f"{path}: a type this check leaves to the models"


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``X | None``, ``Optional[List[Optional[X]]]`` ... -> (X, whether it repeats). Nulls are
    never accepted here, so the optionality does not matter."""
    annotation = _not_none(annotation)
    if typing.get_origin(annotation) is list:
        return _not_none(typing.get_args(annotation)[0]), True
    return annotation, False


def _not_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _model(name: str) -> type[FHIRAbstractModel] | None:
    """The R4B resource model called ``name``, or None if there is no such resource."""
    if not name.isascii() or not name.isalpha() or not name[:1].isupper():
        return None
    try:
        model = get_fhir_model_class(name)
    except (KeyError, ValueError, AttributeError, ImportError):
        return None
    if not (isinstance(model, type) and issubclass(model, FHIRAbstractModel)):
        return None
    if not model.has_resource_base() or model.get_resource_type() != name:
        return None
    return model


@cache
def structure_check() -> StructureCheck:
    """The compiled check, built on first use (about a second) and shared: it holds no state
    that changes a verdict, only derived descriptions and memoised primitive verdicts."""
    return StructureCheck()
