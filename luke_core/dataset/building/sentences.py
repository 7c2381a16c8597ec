"""Sentence splitters of the dataset builder: OpenNLP (through pyjnius) and ICU (PyICU).

A splitter maps a paragraph to sentence spans `(start, end)` in Python string indices
(code points), the unit of the dump database's link offsets. Both libraries count in
UTF-16 units internally; the reference replaced characters outside the Basic Multilingual
Plane by spaces to hide that, which can move sentence boundaries. Here the text goes in
unchanged and the offsets are converted.

`--sentence-splitter opennlp` needs Debian's OpenNLP jar and a sentence model
(`--opennlp-model` or `LUKE_OPENNLP_MODEL`; the English one is `en-sent.bin` from the
OpenNLP site); any other value is an ICU locale such as `en`, `ja` or `pt_BR`.
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from luke_core import storage
from luke_core.dataset.building.options import OPENNLP, OPENNLP_MODEL_ENV
from luke_core.errors import LukeError

OPENNLP_JAR_ENV = "LUKE_OPENNLP_JAR"
DEFAULT_OPENNLP_JAR = "/usr/share/java/opennlp-tools.jar"
# OpenNLP logs through slf4j; without a binding on the class path it prints a warning
SLF4J_JARS = ("/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar")
# The work is a JNI call per paragraph: the C1 compiler alone (quick to warm up) and the
# serial collector (no GC thread per core in every worker) cost less CPU than the defaults,
# by a third on the enwiki sample, even over long runs.
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
# ICU's "standard" sentence-break suppressions (abbreviations such as "Mr.") exist for these
# languages; the reference turns them on for the bare codes, here for any of their locales.
ICU_SUPPRESSION_LANGUAGES = frozenset({"en", "de", "es", "it", "pt"})

Span = tuple[int, int]


class SentenceSplitter(Protocol):
    def split(self, text: str) -> list[Span]:
        """Sentence spans of `text` as code-point offsets, in order."""
        ...


@dataclass(frozen=True)
class SplitterSpec:
    """A checked choice of splitter that a worker process can build (picklable, no JVM)."""

    name: str
    """`opennlp` or an ICU locale."""
    opennlp_model: str | None = None
    """Local path of the OpenNLP model (only for `opennlp`)."""

    def create(self) -> SentenceSplitter:
        if self.name == OPENNLP:
            assert self.opennlp_model is not None
            return OpenNLPSentenceSplitter(self.opennlp_model)
        return ICUSentenceSplitter(self.name)


def resolve_splitter(name: str, opennlp_model: str | None = None) -> SplitterSpec:
    """Check a `--sentence-splitter` value and its model (`opennlp_model`, resolved by
    `BuildDatasetOptions.resolved_opennlp_model`) before any work starts, without starting
    a JVM (workers start their own after the fork)."""
    if name == OPENNLP:
        model = opennlp_model
        if not model:
            raise LukeError(
                "--sentence-splitter opennlp needs a sentence model: pass --opennlp-model "
                f"or set {OPENNLP_MODEL_ENV} (the English model is en-sent.bin from "
                "https://opennlp.apache.org/models.html)"
            )
        if not storage.exists(model):
            raise LukeError(f"{model}: OpenNLP sentence model not found")
        local = storage.local_copy(model)
        problem = _opennlp_model_problem(local)
        if problem:
            raise LukeError(f"{model}: not an OpenNLP sentence model ({problem})")
        opennlp_jar()
        return SplitterSpec(OPENNLP, local)
    icu_locale(name)
    return SplitterSpec(name)


def _opennlp_model_problem(path: str) -> str:
    """What keeps the file from being a sentence model, checked from the zip alone (the
    JVM that would load it starts only in the workers, after the build has begun)."""
    if not zipfile.is_zipfile(path):
        return "not a zip file"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if "manifest.properties" not in names:
            return "no manifest.properties"
        manifest = archive.read("manifest.properties").decode("latin-1")
    component = re.search(r"^Component-Name=(.*)$", manifest, re.M)
    if component is None or component.group(1).strip() != "SentenceDetectorME":
        found = component.group(1).strip() if component else "none"
        return f"its manifest names the component {found}, not SentenceDetectorME"
    if not any(name.endswith(".model") for name in names):
        return "no .model entry"
    return ""


def icu_locale(name: str):
    """The ICU locale for a splitter name; an error for a language ICU does not know."""
    import icu

    locale = icu.Locale(name)
    language = locale.getLanguage()
    if not language or language not in icu.Locale.getISOLanguages():
        raise LukeError(
            f"unknown sentence splitter {name!r}: neither 'opennlp' nor an ICU locale "
            "(a language code such as en, ja or pt_BR)"
        )
    if language in ICU_SUPPRESSION_LANGUAGES and "@" not in name:
        locale = icu.Locale(f"{name}@ss=standard")
    return locale


class ICUSentenceSplitter:
    """ICU's BreakIterator. Its spans run from one boundary to the next, so they include
    the whitespace after a sentence, as in the reference."""

    def __init__(self, locale: str):
        import icu

        self.breaker = icu.BreakIterator.createSentenceInstance(icu_locale(locale))

    def split(self, text: str) -> list[Span]:
        if not text:
            return []
        self.breaker.setText(text)
        bounds = [0, *self.breaker]
        if not text.isascii() and max(text) > "\uffff":
            bounds = _utf16_to_code_points(text, bounds)
        return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def _utf16_to_code_points(text: str, offsets: Sequence[int]) -> list[int]:
    """Convert UTF-16 offsets into code-point offsets: every character outside the BMP
    before an offset takes two UTF-16 units but one code point."""
    astral_ends: list[int] = []  # UTF-16 offset just after each astral character
    units = 0
    for char in text:
        units += 2 if char > "\uffff" else 1
        if char > "\uffff":
            astral_ends.append(units)
    return [offset - bisect.bisect_right(astral_ends, offset) for offset in offsets]


def opennlp_jar() -> str:
    jar = os.environ.get(OPENNLP_JAR_ENV) or DEFAULT_OPENNLP_JAR
    if not os.path.exists(jar):
        raise LukeError(
            f"{jar}: OpenNLP jar not found; install Debian's libapache-opennlp-java "
            f"(or set {OPENNLP_JAR_ENV} to an opennlp-tools jar)"
        )
    return jar


def _java_home() -> str:
    """JAVA_HOME, or the installation that `java` on the PATH belongs to."""
    home = os.environ.get("JAVA_HOME")
    if not home:
        java = shutil.which("java")
        if java is None:
            raise LukeError(
                "the OpenNLP sentence splitter needs Java: install a JRE "
                "(Debian: default-jre-headless) or set JAVA_HOME"
            )
        home = os.path.dirname(os.path.dirname(os.path.realpath(java)))
    if not any(
        os.path.exists(os.path.join(home, sub, "libjvm.so"))
        for sub in ("lib/server", "jre/lib/amd64/server", "lib/client")
    ):
        raise LukeError(f"{home}: no libjvm.so in this Java installation (JAVA_HOME)")
    return home


def _jnius():
    """Import pyjnius with OpenNLP on the class path. The class path can only be set
    before the JVM starts, once per process."""
    import jnius_config

    if not jnius_config.vm_running:
        os.environ["JAVA_HOME"] = _java_home()
        jars = [opennlp_jar(), *(j for j in SLF4J_JARS if os.path.exists(j))]
        # `classpath` is what was set so far; get_classpath() would start the JVM
        jnius_config.add_classpath(*(j for j in jars if j not in (jnius_config.classpath or [])))
        jnius_config.add_options(*(o for o in JVM_OPTIONS if o not in jnius_config.options))
    import jnius

    return jnius


class OpenNLPSentenceSplitter:
    """OpenNLP's SentenceDetectorME with a model file, as in the reference.

    One JNI call per paragraph: `sentDetect` returns the sentences as Java strings, which
    pyjnius converts in one go; their spans (those of `sentPosDetect`: the covered text
    trimmed of whitespace) are recovered by searching them in order, which also yields
    code-point offsets directly instead of UTF-16 ones."""

    def __init__(self, model_path: str):
        jnius = _jnius()
        File = jnius.autoclass("java.io.File")
        try:
            SentenceModel = jnius.autoclass("opennlp.tools.sentdetect.SentenceModel")
            SentenceDetectorME = jnius.autoclass("opennlp.tools.sentdetect.SentenceDetectorME")
        except jnius.JavaException:
            raise LukeError(
                "OpenNLP classes not found: this process started its JVM without "
                f"{opennlp_jar()} on the class path"
            ) from None
        try:
            model = SentenceModel(File(model_path))
        except jnius.JavaException as exc:
            # the Java message, without pyjnius' stack trace lines
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else "rejected"
            raise LukeError(f"{model_path}: not an OpenNLP sentence model ({message})") from None
        self.detector = SentenceDetectorME(model)

    def split(self, text: str) -> list[Span]:
        if not text or text.isspace():
            return []
        spans = []
        position = 0
        for sentence in self.detector.sentDetect(text):
            start = text.find(sentence, position)
            if start < 0:  # cannot happen for covered text; fail loudly rather than misalign
                raise RuntimeError(f"OpenNLP returned a sentence not in the text: {sentence!r}")
            position = start + len(sentence)
            spans.append((start, position))
        return spans

    def pos_detect(self, text: str) -> list[Span]:
        """OpenNLP's own spans (UTF-16 offsets): what the reference called."""
        return [(s.getStart(), s.getEnd()) for s in self.detector.sentPosDetect(text)]
