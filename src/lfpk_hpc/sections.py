"""Section names of a cell's morphology, read from its text without NEURON.

The load-time checks of a params file (:mod:`lfpk_hpc.params`) compare the names a
params file uses (placements, the soma) with the sections of the cell they name. A
morphology file is loaded into NEURON only when its cell is built, so its names are
read here from the text, as NEURON will give them:

- a generated cell: its ``Section`` names;
- a .hoc file: its ``create`` statements at the top level (``create soma, dend[3]``
  gives ``soma``, ``dend[0]``, ``dend[1]``, ``dend[2]``, as LFPy loads it);
- a .swc or .asc file: the point types, named as NEURON's Import3d names them (soma,
  axon, dend, apic; other types dend_<type>); NEURON numbers the sections as it
  splits the tree, so only the base names are known;
- .xml (NeuroML) and hoc templates: not read (None); such a cell's names are checked
  when it is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SectionNames", "section_names"]


@dataclass(frozen=True)
class SectionNames:
    """The section names of a cell's morphology, read without NEURON.

    ``exact``: the names NEURON will give the sections (generated cells, hoc files:
    ``soma``, ``dend[0]``, …). Otherwise ``names`` are the base names of a format
    whose sections NEURON numbers as it splits the tree when loading it (.swc, .asc:
    ``dend`` stands for ``dend[0]``, ``dend[1]``, …; NEURON's Import3d names them
    soma, axon, dend, apic by the points' type).

    Parameters
    ----------
    names : tuple of str
        The section names, or the base names of the format (see above).
    exact : bool
        Whether ``names`` are the names NEURON will give the sections.
    """

    names: tuple[str, ...]
    exact: bool

    def matches(self, part: str) -> bool:
        """True if some section's name contains ``part`` (:meth:`Placement.allows`).
        For base names, a part with an index (``dend[3]``) is checked up to its
        index, which only NEURON knows.

        Parameters
        ----------
        part : str
            Part of a section name, as a :class:`Placement` names it.

        Returns
        -------
        bool
            False only where no section can match.
        """
        if any(part in name for name in self.names):
            return True
        if self.exact:
            return False
        if "[" in part:  # names are base[i]: the part before "[" must end a base name
            head = part.split("[", 1)[0]
            return any(name.endswith(head) for name in self.names)
        return "]" in part  # "3]": only NEURON's numbering can tell

    def describe(self) -> str:
        """The names, arrays compressed: ``soma, apic[0..54], dend[0..100]``."""
        groups: dict[str, list[int]] = {}
        for name in self.names:
            m = re.fullmatch(r"(.+)\[(\d+)\]", name)
            if m is None:
                groups.setdefault(name, [])
            else:
                groups.setdefault(m.group(1), []).append(int(m.group(2)))
        parts = []
        for base, idx in groups.items():
            if not idx:
                parts.append(base if self.exact else f"{base}[…]")
            elif len(idx) == 1:
                parts.append(f"{base}[{idx[0]}]")
            else:
                parts.append(f"{base}[{min(idx)}..{max(idx)}]")
        return ", ".join(parts)


_HOC_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_HOC_CREATE = re.compile(r"(?<![\w.])create\s+([^\n;{}]+)")
_HOC_ITEM = re.compile(r"([A-Za-z_]\w*)\s*(?:\[\s*(\d+)\s*\])?")


def _hoc_sections(text: str) -> SectionNames | None:
    """The sections a hoc morphology file creates at the top level (its ``create``
    statements); None when they cannot be read from the text (a template, an array
    size that is an expression)."""
    text = _HOC_COMMENT.sub(" ", text)
    if re.search(r"\bbegintemplate\b", text):
        return None
    names: dict[str, list[str]] = {}
    for m in _HOC_CREATE.finditer(text):
        for item in m.group(1).split(","):
            mm = _HOC_ITEM.fullmatch(item.strip())
            if mm is None:
                return None
            base, n = mm.groups()
            names[base] = [base] if n is None else [f"{base}[{i}]" for i in range(int(n))]
    if not names:
        return None
    return SectionNames(tuple(n for v in names.values() for n in v), True)


def _import3d_name(kind: int) -> str:
    """NEURON Import3d's section name for an SWC point type (import3d_gui.hoc)."""
    return {1: "soma", 2: "axon", 3: "dend", 4: "apic"}.get(
        kind, f"minus_{-kind}" if kind < 0 else f"dend_{kind}"
    )


def _swc_sections(text: str) -> SectionNames | None:
    kinds = set()
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split()
        try:
            kinds.add(int(float(parts[1])))
        except (IndexError, ValueError):
            return None
    return SectionNames(tuple(_import3d_name(k) for k in sorted(kinds)), False) if kinds else None


_ASC_KINDS = {"cellbody": 1, "axon": 2, "dendrite": 3, "apical": 4}


def _asc_sections(text: str) -> SectionNames | None:
    text = re.sub(r";[^\n]*", " ", text)
    kinds = {k for key, k in _ASC_KINDS.items() if re.search(rf"\(\s*{key}\s*\)", text, re.I)}
    return SectionNames(tuple(_import3d_name(k) for k in sorted(kinds)), False) if kinds else None


_CACHE: dict[tuple, SectionNames | None] = {}


def section_names(morphology) -> SectionNames | None:
    """The section names of a morphology without NEURON: ``morphology`` is a sequence
    of generated sections (objects with a ``name``) or the path of a file: those a
    .hoc file creates, the base names of a .swc or .asc file (by point type); None
    where the text does not tell (.xml, a hoc template) or the file is unreadable.
    A file is read once per content (path, modification time and size).

    Parameters
    ----------
    morphology : sequence of Section, str or pathlib.Path
        The generated sections, or the path of a morphology file.

    Returns
    -------
    SectionNames or None
        The names, or None where the file does not tell them.
    """
    if not isinstance(morphology, (str, Path)):
        return SectionNames(tuple(s.name for s in morphology), True)
    path = Path(morphology)
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _CACHE:
        reader = {".hoc": _hoc_sections, ".swc": _swc_sections, ".asc": _asc_sections}.get(
            path.suffix.lower()
        )
        try:
            text = path.read_text(errors="replace") if reader else None
        except OSError:
            text = None
        _CACHE[key] = reader(text) if text is not None else None
    return _CACHE[key]
