"""The base of aioremotion's settings models, and how their validation errors read.

Pydantic reports a ``ValidationError`` with locations and codes; users get one
:class:`~aioremotion.errors.InvalidOptionsError` with a ``(field, message)`` per problem:
snake_case dotted paths (``webhook.url``), messages that say what is expected and what was
given (secrets shown by their type only), and a suggestion for a misspelt name. Every
settings model (the option models, ``WebConfig``) derives from :class:`ValidatedModel`.

Example:
    >>> class Size(ValidatedModel):
    ...     width_px: int
    >>> try:
    ...     Size(widthPx="wide")
    ... except InvalidOptionsError as exc:
    ...     print(exc.problems)
    [('width_px', "must be a whole number; got 'wide'")]
"""

from __future__ import annotations

import difflib
from types import UnionType
from typing import Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic.alias_generators import to_camel
from typing_extensions import Self

from ..errors import InvalidOptionsError

__all__ = ["ValidatedModel"]


def _literal_choices(annotation: Any) -> tuple[str, ...] | None:
    args = getattr(annotation, "__args__", None)
    if not args:
        return None
    choices: list[str] = []
    for arg in args:
        if isinstance(arg, str):
            choices.append(arg)
        else:
            inner = _literal_choices(arg)
            if inner:
                choices.extend(inner)
    return tuple(choices) or None


class ValidatedModel(BaseModel):
    """Base of every settings model: camelCase aliases, unknown keys refused (with a
    suggestion), and pydantic's errors turned into one :class:`InvalidOptionsError` naming
    each field and the fix."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
    )

    #: JS option names that no longer exist, with what to use instead.
    _removed_options: ClassVar[dict[str, str]] = {}

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _translate(type(self), exc) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate a mapping (snake_case or camelCase keys) into options."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise _translate(cls, exc) from None

    @model_validator(mode="before")
    @classmethod
    def _refuse_removed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            problems = [(key, fix) for key, fix in cls._removed_options.items() if key in data]
            if problems:
                raise InvalidOptionsError(problems)
        return data


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_union(annotation: Any) -> bool:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return get_origin(annotation) in (Union, UnionType) and len(args) > 1


def _field_path(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into a dotted snake_case path (``webhook.url``)."""
    path = ""
    current: type[BaseModel] | None = model
    union_tag_next = False
    for item in loc:
        if union_tag_next:
            # pydantic names the union member that failed ("str", "OutNameS3", ...)
            union_tag_next = False
            continue
        if isinstance(item, int):
            path += f"[{item}]"
            current = None
            continue
        fields = current.model_fields if current is not None else {}
        match = next(
            ((name, info) for name, info in fields.items() if item in (name, info.alias)), None
        )
        if match is not None:
            path += ("." if path else "") + match[0]
            current = _nested_model(match[1].annotation)
            union_tag_next = _is_union(match[1].annotation)
        elif item not in ("function-after", "function-before", "function-wrap"):
            path += f".{item}" if path else item
    return path


_TYPE_MISMATCH = frozenset(
    {"string_type", "int_type", "int_parsing", "float_type", "float_parsing", "bool_type",
     "bool_parsing", "dict_type", "model_type", "model_attributes_type", "tuple_type",
     "list_type", "is_instance_of", "none_required"}
)


def _describe(kind: str, error: Any) -> str:
    ctx = error.get("ctx") or {}
    given = error.get("input")
    messages = {
        "missing": "is required",
        "greater_than_equal": f"must be at least {ctx.get('ge')}; got {given!r}",
        "less_than_equal": f"must be at most {ctx.get('le')}; got {given!r}",
        "greater_than": f"must be greater than {ctx.get('gt')}; got {given!r}",
        "less_than": f"must be less than {ctx.get('lt')}; got {given!r}",
        "int_type": f"must be a whole number; got {given!r}",
        "int_parsing": f"must be a whole number; got {given!r}",
        "int_from_float": f"must be a whole number; got {given!r}",
        "float_type": f"must be a number; got {given!r}",
        "float_parsing": f"must be a number; got {given!r}",
        "bool_type": f"must be true or false; got {given!r}",
        "bool_parsing": f"must be true or false; got {given!r}",
        "string_type": f"must be a string; got {given!r}",
        "dict_type": f"must be an object (a dict); got {given!r}",
        "model_type": f"must be an object (a dict); got {given!r}",
        "model_attributes_type": f"must be an object (a dict); got {given!r}",
    }
    if kind in messages:
        return messages[kind]
    message = str(error.get("msg", ""))
    return f"{message[:1].lower()}{message[1:]}; got {given!r}"


#: Fields whose value an error message must never echo (it would end up in logs).
_SECRET_FIELDS = frozenset({"license_key", "licenseKey", "api_key", "apiKey", "secret",
                            "secret_access_key", "secretAccessKey", "access_key_id",
                            "accessKeyId"})


class _Hidden:
    """Stands in for a secret's value in an error message: only its type is shown."""

    def __init__(self, value: Any) -> None:
        self.kind = type(value).__name__

    def __repr__(self) -> str:
        return f"a {self.kind} (value hidden: it is a secret)"


def _translate(model: type[ValidatedModel], exc: ValidationError) -> InvalidOptionsError:
    found: list[tuple[str, str, bool]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        path = _field_path(model, loc)
        if _SECRET_FIELDS.intersection(str(part) for part in loc) or (
                path.rsplit(".", 1)[-1] in _SECRET_FIELDS):
            error = {**error, "input": _Hidden(error.get("input"))}
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidOptionsError):
            for field, message in cause.problems:
                if not path or path == field or path.endswith(f".{field}"):
                    full = path or field
                else:
                    full = f"{path}.{field}"
                found.append((full, message, False))
            continue
        if kind == "extra_forbidden":
            owner = _owner_model(model, loc[:-1])
            guess = difflib.get_close_matches(str(loc[-1]), _known_names(owner), n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else ""
            path = path or str(loc[-1])
            if not path.endswith(str(loc[-1])):
                path = f"{path}.{loc[-1]}"
            found.append((path, f"is not an option of {owner.__name__}{hint}", False))
        elif kind in ("literal_error", "enum"):
            choices = _literal_choices(_annotation_at(model, loc))
            expected = (error.get("ctx") or {}).get("expected")
            listed = ", ".join(choices) if choices else str(expected)
            found.append((path, f"must be one of {listed}; got {error.get('input')!r}", False))
        elif kind == "value_error":
            found.append((path, str(error.get("msg", "")).removeprefix("Value error, "), False))
        else:
            found.append((path or "options", _describe(kind, error), kind in _TYPE_MISMATCH))
    # A union reports every member; keep the specific complaint over "must be a string".
    specific = [path for path, _, mismatch in found if not mismatch]
    problems: list[tuple[str, str]] = []
    for path, message, mismatch in found:
        if mismatch and any(p == path or p.startswith(f"{path}.") for p in specific):
            continue
        if (path, message) not in problems and not (
            mismatch and any(p == path for p, _ in problems)
        ):
            problems.append((path, message))
    return InvalidOptionsError(problems)


def _owner_model(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel]:
    current: type[BaseModel] = model
    for item in loc:
        match = next(
            (info for name, info in current.model_fields.items() if item in (name, info.alias)),
            None,
        )
        nested = _nested_model(match.annotation) if match is not None else None
        if nested is not None:
            current = nested
    return current


def _annotation_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    current: type[BaseModel] | None = model
    annotation: Any = None
    for item in loc:
        if current is None or not isinstance(item, str):
            continue
        match = next(
            (info for name, info in current.model_fields.items() if item in (name, info.alias)),
            None,
        )
        if match is not None:
            annotation = match.annotation
            current = _nested_model(annotation)
    return annotation


def _known_names(model: type[BaseModel]) -> list[str]:
    names: list[str] = []
    for fname, finfo in model.model_fields.items():
        names.append(fname)
        if finfo.alias:
            names.append(finfo.alias)
    return names
