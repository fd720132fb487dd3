"""YAML files read with limits, for config and content alike.

PyYAML's SafeLoader still lets a small file stand for a huge tree (aliases of
aliases: "billion laughs"), recurses once per nesting level (500 brackets are
a RecursionError), and keeps the last of two equal keys. The loader here
refuses all of these while composing, naming the file and line.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode

# A real report nests 6 levels (file > sections > section > measures > measure > questions)
# and the config 3: 50 is far beyond any honest file and far below Python's recursion limit.
MAX_DEPTH = 50
# Nodes with every alias expanded: the real report has about 1,500, the config about 40.
MAX_NODES = 200_000
MAX_ALIASES = 100  # nothing of ours needs aliases; a few for shared question lists are fine
_SURROGATE = re.compile("[\ud800-\udfff]")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlFileError(Exception):
    """A file that cannot be read as YAML within the limits; ``line`` 0: the whole file."""

    def __init__(self, file: Path, line: int, message: str):
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}")


class _Refused(Exception):
    def __init__(self, line: int, message: str):
        self.line, self.message = line, message


class LimitedLoader(yaml.SafeLoader):
    """SafeLoader that counts nesting, aliases and expanded nodes while composing, and
    refuses duplicate, non-scalar and merge (``<<``) keys and lone surrogates."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0
        self._expanded = 0  # nodes composed so far, an alias counting as the nodes it stands for
        self._anchored: dict[str, int] = {}  # anchor -> expanded size of its node

    def _grow(self, nodes: int, line: int) -> None:
        self._expanded += nodes
        if self._expanded > MAX_NODES:
            raise _Refused(line, f"the document expands to more than {MAX_NODES:,} nodes"
                                 " (aliases of aliases?)")

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(line, f"more than {MAX_ALIASES} aliases (*name)")
            anchor = event.anchor or ""
            if anchor in self.anchors and anchor not in self._anchored:
                raise _Refused(line, f"alias *{anchor} refers to a node that contains it")
            node = super().compose_node(parent, index)  # an undefined alias raises here
            self._grow(self._anchored[anchor], line)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(line, f"nested more than {MAX_DEPTH} levels deep")
        before = self._expanded
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._grow(1, line)
        if event.anchor is not None:
            self._anchored[event.anchor] = self._expanded - before
        return node

    def compose_scalar_node(self, anchor: Any) -> ScalarNode:
        node = super().compose_scalar_node(anchor)
        surrogate = _SURROGATE.search(node.value)
        if surrogate:
            raise _Refused(node.start_mark.line + 1,
                           f"lone surrogate \\u{ord(surrogate.group()):04x} is not text")
        return node

    def compose_mapping_node(self, anchor: Any) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        first: dict[str, int] = {}
        for key, _ in node.value:
            line = key.start_mark.line + 1
            if not isinstance(key, ScalarNode):
                raise _Refused(line, "a key must be plain text, not a list or mapping")
            if key.tag == _MERGE_TAG:
                raise _Refused(line, "merge keys (<<) are not supported")
            if key.value in first:
                raise _Refused(
                    line, f"duplicate key '{key.value[:40]}' (first at line {first[key.value]})"
                )
            first[key.value] = line
        return node


def read_text(path: Path, max_bytes: int) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes``; YamlFileError otherwise.

    Checked before opening, so a FIFO or device never blocks and a huge file is never read.
    """
    try:
        status = path.stat()
    except FileNotFoundError:
        raise YamlFileError(path, 0, "file not found") from None
    except OSError as error:
        raise YamlFileError(path, 0, f"cannot read ({error.strerror})") from None
    if stat.S_ISDIR(status.st_mode):
        raise YamlFileError(path, 0, "is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise YamlFileError(path, 0, "is not a regular file")
    if status.st_size > max_bytes:
        raise YamlFileError(
            path, 0, f"is {status.st_size:,} bytes; the limit is {max_bytes:,}"
        )
    try:
        # O_NONBLOCK: if the file was swapped for a FIFO since stat, open does not wait
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with open(descriptor, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise YamlFileError(path, 0, f"cannot read ({error.strerror})") from None
    if len(data) > max_bytes:
        raise YamlFileError(path, 0, f"is more than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise YamlFileError(path, line, "not UTF-8 text") from None


def compose(path: Path, text: str) -> Node | None:
    """The node tree of ``text`` (read from ``path``), None when it holds no document."""
    loader = None
    try:
        loader = LimitedLoader(text)  # the reader checks for control characters already here
        return loader.get_single_node()
    except _Refused as error:
        raise YamlFileError(path, error.line, error.message) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlFileError(path, line, f"invalid YAML: {error.problem}") from None
    except yaml.reader.ReaderError as error:  # a control character: it has a position, no mark
        line = text[: error.position].count("\n") + 1
        message = f"invalid YAML: character #x{error.character:04x}: {error.reason}"
        raise YamlFileError(path, line, message) from None
    except yaml.YAMLError as error:
        raise YamlFileError(path, 1, f"invalid YAML ({error.__class__.__name__})") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_node(path: Path, max_bytes: int) -> Node | None:
    """Read and compose a YAML file within the limits; YamlFileError names file and line."""
    return compose(path, read_text(path, max_bytes))


def construct(path: Path, node: Node) -> Any:
    """Plain Python values of a composed (already limited) node."""
    try:
        return yaml.constructor.SafeConstructor().construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else node.start_mark.line + 1
        raise YamlFileError(path, line, f"invalid value: {error.problem}") from None
    except (ValueError, OverflowError) as error:  # 2024-13-45, a 5,000-digit number
        raise YamlFileError(path, node.start_mark.line + 1, f"invalid value ({error})") from None
