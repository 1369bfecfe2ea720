"""The catalog's field reference, read off the model: what docs/catalog.md shows, so it cannot drift from it."""

from __future__ import annotations

import types
from datetime import date
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pipeline.catalog.model import CatalogDocument

# The model's value types by the validator that makes them (model.py's Identifier, Text, Ratio...).
_VALIDATED = {
    "_identifier": "identifier",
    "_not_blank": "text",
    "_regex": "regular expression",
    "_ratio": "ratio (0 to 1)",
    "_email": "e-mail address",
    "_currency": "currency (ISO 4217, e.g. EUR)",
    "_timezone": "IANA time zone",
}
_PLAIN = {str: "text", int: "integer", float: "number", bool: "true or false", date: "date (YYYY-MM-DD)"}


class FieldDoc(NamedTuple):
    """One field as the reference shows it."""

    name: str
    type: str
    default: str
    description: str | None


class ModelDoc(NamedTuple):
    """One model (a block of a catalog file), where it appears in a file, and its fields."""

    model: type[BaseModel]
    paths: tuple[str, ...]
    fields: tuple[FieldDoc, ...]

    @property
    def name(self) -> str:
        return self.model.__name__


def model_docs(root: type[BaseModel] = CatalogDocument) -> list[ModelDoc]:
    """Every model reachable from `root`, in the order a reader meets them, with the paths they appear at."""
    order: list[type[BaseModel]] = []
    paths: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], path: str, inside: tuple[type[BaseModel], ...]) -> None:
        if model not in paths:
            order.append(model)
        paths.setdefault(model, []).append(path)
        if model in inside:  # a model that holds itself: its fields are listed once
            return
        for name, info in model.model_fields.items():
            for child, suffix in _models_in(info.annotation):
                visit(child, f"{path}.{name}{suffix}" if path else f"{name}{suffix}", (*inside, model))

    visit(root, "", ())
    return [
        ModelDoc(m, tuple(paths[m]), tuple(_field_doc(name, info) for name, info in m.model_fields.items()))
        for m in order
    ]


def undocumented(root: type[BaseModel] = CatalogDocument) -> list[str]:
    """`Model.field` for every field without a description."""
    return [f"{doc.name}.{f.name}" for doc in model_docs(root) for f in doc.fields if not f.description]


def markdown(
    root: type[BaseModel] = CatalogDocument,
    documented: tuple[type[BaseModel], ...] = (),
    top: str = "the top level of every catalog file",
) -> str:
    """The reference: one section per model with a table of its fields (type, default, meaning); a model in
    `documented` has its section elsewhere on the page and is only linked to; `top` names where `root` is."""
    missing = undocumented(root)
    if missing:
        raise ValueError(f"catalog fields without a description (Field(description=...)): {', '.join(missing)}")
    out: list[str] = []
    for doc in model_docs(root):
        if doc.model in documented:
            continue
        where = ", ".join(f"`{p}`" for p in doc.paths if p) or top
        out.append(f"### {doc.name}\n")
        out.append(f"{_docstring(doc.model)} In a file: {where}.\n")
        out.append("| field | type | default | meaning |")
        out.append("|---|---|---|---|")
        out += [f"| `{f.name}` | {f.type} | {f.default} | {_cell(f.description or '')} |" for f in doc.fields]
        out.append("")
    return "\n".join(out).rstrip()


def _docstring(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _models_in(annotation: Any) -> list[tuple[type[BaseModel], str]]:
    """The models an annotation holds, each with its path suffix (`[]` for a list item)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, "")]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models_in(get_args(annotation)[0])
    if origin is list:
        return [(m, "[]" + suffix) for m, suffix in _models_in(get_args(annotation)[0])]
    if origin in (Union, types.UnionType):
        return [found for arg in get_args(annotation) for found in _models_in(arg)]
    return []


def _field_doc(name: str, info: FieldInfo) -> FieldDoc:
    return FieldDoc(name, _type(info.annotation, tuple(info.metadata)), _default(info), info.description)


def _type(annotation: Any, metadata: tuple[Any, ...] = ()) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *more = get_args(annotation)
        return _type(inner, (*more, *metadata))
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        # Optional-ness shows in the default column; a real union is spelled out.
        return " or ".join(_type(arg) for arg in options) + _constraints(metadata)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in get_args(annotation))
    if origin is list:
        return f"list of {_type(get_args(annotation)[0])}{_constraints(metadata)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    named = [
        _VALIDATED[m.func.__name__] for m in metadata if getattr(m, "func", None) and m.func.__name__ in _VALIDATED
    ]
    base = named[0] if named else _PLAIN.get(annotation, getattr(annotation, "__name__", str(annotation)))
    return base + _constraints(metadata)


def _constraints(metadata: tuple[Any, ...]) -> str:
    found = []
    for item in metadata:
        if isinstance(item, annotated_types.Gt):
            found.append(f" > {item.gt}")
        elif isinstance(item, annotated_types.Ge):
            found.append(f" ≥ {item.ge}")
        elif isinstance(item, annotated_types.MinLen):
            found.append(f", at least {item.min_length}")
    return "".join(found)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "(none)"
    if isinstance(value, BaseModel):
        return "(empty)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"
