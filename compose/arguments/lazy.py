"""Subcommands whose parsers are made only when the command line names them.

Making every command's parser costs the CLI more than most commands' own work (hundreds of
``add_argument`` calls, the global flags repeated on each command). :class:`CommandParsers`
holds, for each command, its name, aliases, one-line help and a way to make its parser:
the top-level ``--help`` and the "invalid choice" error need only the names and help, and
argparse hands the chosen name to this action, which makes that one parser then.

The grammar's ``add_*_commands(commands)`` functions stay written against argparse's
``add_parser``: :func:`register` runs one with a stand-in that only notes the names, and
making a command runs it again with a stand-in that builds that command's parser alone
(every other command's calls go to :data:`IGNORED`). tests/compose/test_cli_lazy.py checks
that each command's help and parse results are those of the parser made whole.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

Group = Callable[[Any], None]
Finish = Callable[[argparse.ArgumentParser], None]


class _Ignored:
    """Stands for the parsers of the commands not being made: every call does nothing."""

    def __getattr__(self, name: str) -> _Ignored:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _Ignored:
        return self


IGNORED = _Ignored()


class CommandParsers(argparse._SubParsersAction):  # type: ignore[type-arg]
    """argparse's subcommands action, with parsers made on demand (see the module's doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unmade: dict[str, tuple[str, Group, Finish | None]] = {}

    def register(self, group: Group, finish: Finish | None = None) -> None:
        """Note the commands ``group(commands)`` adds; ``finish`` completes each one's parser."""
        group(_Names(self, group, finish))

    def _note(self, name: str, aliases: Sequence[str], help_text: str | None, make: Any) -> None:
        if name in self._name_parser_map or any(a in self._name_parser_map for a in aliases):
            raise ValueError(f"conflicting subcommand {name!r}")
        if help_text is not None:
            self._choices_actions.append(self._ChoicesPseudoAction(name, aliases, help_text))
        for key in (name, *aliases):
            # a placeholder until made: argparse reads only the keys before calling us
            self._name_parser_map[key] = None
            self._unmade[key] = (name, *make)

    def make(self, name: str) -> argparse.ArgumentParser:
        """The parser of command ``name`` (or an alias of it), made on first use."""
        if name in self._unmade:
            primary, group, finish = self._unmade[name]
            only = _Only(self, primary)
            group(only)
            parser = only.parser
            if parser is None:
                raise ValueError(f"{group.__name__} did not add {primary!r}")
            if finish is not None:
                finish(parser)
        parser = self._name_parser_map[name]
        assert isinstance(parser, argparse.ArgumentParser)
        return parser

    def make_all(self) -> None:
        for name in list(self._unmade):
            self.make(name)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if values[0] in self._unmade:
            self.make(values[0])
        super().__call__(parser, namespace, values, option_string)


class _Names:
    """The stand-in that notes each command a group adds."""

    def __init__(self, action: CommandParsers, group: Group, finish: Finish | None) -> None:
        self._action = action
        self._make = (group, finish)

    def add_parser(
        self, name: str, *, help: str | None = None, aliases: Sequence[str] = (), **kwargs: Any
    ) -> _Ignored:
        if kwargs:
            raise TypeError(f"add_parser({name!r}): unsupported {sorted(kwargs)}")
        self._action._note(name, aliases, help, self._make)
        return IGNORED


class _Only:
    """The stand-in that makes one command's parser and ignores the others."""

    def __init__(self, action: CommandParsers, name: str) -> None:
        self._action = action
        self._name = name
        self.parser: argparse.ArgumentParser | None = None

    def add_parser(
        self, name: str, *, help: str | None = None, aliases: Sequence[str] = (), **kwargs: Any
    ) -> argparse.ArgumentParser | _Ignored:
        if name != self._name:
            return IGNORED
        action = self._action
        parser: argparse.ArgumentParser = action._parser_class(
            prog=f"{action._prog_prefix} {name}", **kwargs
        )
        for key in (name, *aliases):
            action._name_parser_map[key] = parser
            del action._unmade[key]
        self.parser = parser
        return parser
