"""The citation metadata: CITATION.cff against the rules of the Citation File Format 1.2.0, and
.zenodo.json and the intro page's BibTeX entry in agreement with it."""

import json
import re
from pathlib import Path

import jsonschema
import yaml

import helpers

ROOT = Path(__file__).resolve().parents[1]
URL = {"type": "string", "pattern": r"^(https|http|ftp|sftp)://.+"}
DOI = {"type": "string", "pattern": r"^10\.\d{4,9}(\.\d+)?/[A-Za-z0-9:/_;\-\.\(\)\[\]\\]+$"}
PERSON = {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
    name: {"type": "string", "minLength": 1} for name in (
        "family-names", "given-names", "name-particle", "name-suffix", "affiliation", "email", "orcid", "website")}}
ENTITY = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}}
AUTHORS = {"type": "array", "minItems": 1, "items": {"anyOf": [PERSON, ENTITY]}}
IDENTIFIERS = {"type": "array", "items": {"type": "object", "required": ["type", "value"],
                                          "properties": {"type": {"enum": ["doi", "url", "swh", "other"]}}}}
REFERENCE_TYPES = ["article", "book", "conference-paper", "data", "generic", "manual", "report", "software",
                   "thesis", "website"]
# Citation File Format 1.2.0 (https://citation-file-format.github.io): the keys it defines at the
# top level, the required ones, and the formats of those this file uses.
CFF_SCHEMA = {
    "type": "object",
    "required": ["authors", "cff-version", "message", "title"],
    "additionalProperties": False,
    "properties": {
        "cff-version": {"const": "1.2.0"},
        "message": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "type": {"enum": ["software", "dataset"]},
        "authors": AUTHORS,
        "version": {"type": "string"},
        "date-released": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "license": {"type": "string", "pattern": r"^[A-Za-z0-9.+-]+$"},
        "repository-code": URL, "repository": URL, "repository-artifact": URL, "url": URL, "license-url": URL,
        "doi": DOI,
        "identifiers": IDENTIFIERS,
        "keywords": {"type": "array", "items": {"type": "string"}},
        "abstract": {"type": "string"}, "commit": {"type": "string"}, "contact": AUTHORS,
        "preferred-citation": {"type": "object"},
        "references": {"type": "array", "items": {
            "type": "object", "required": ["authors", "title", "type"],
            "properties": {"type": {"enum": REFERENCE_TYPES}, "authors": AUTHORS, "doi": DOI,
                           "year": {"type": "integer"}, "identifiers": IDENTIFIERS}}},
    },
}


def citation() -> dict:
    # dates stay strings, as the format writes them (YAML would read them as dates)
    return yaml.load((ROOT / "CITATION.cff").read_text(), Loader=yaml.BaseLoader)


def test_citation_cff_follows_the_format():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    cff["date-released"] = str(cff["date-released"])
    jsonschema.validate(cff, CFF_SCHEMA)


def test_the_schema_refuses_what_the_format_forbids():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    cff["date-released"] = str(cff["date-released"])
    for broken in ({**cff, "cff-version": "1.1"}, {**cff, "authors": []}, {**cff, "titel": "x"},
                   {k: v for k, v in cff.items() if k != "message"}, {**cff, "references": [{"title": "x"}]}):
        try:
            jsonschema.validate(broken, CFF_SCHEMA)
        except jsonschema.ValidationError:
            continue
        raise AssertionError(f"accepted {sorted(set(broken) ^ set(cff)) or 'a changed value'}")


def test_citation_names_the_library_version():
    assert citation()["version"] == helpers.__version__


def test_zenodo_metadata_agrees_with_citation_cff():
    cff, zenodo = citation(), json.loads((ROOT / ".zenodo.json").read_text())
    assert zenodo["upload_type"] == "software"
    assert (zenodo["title"], zenodo["version"], zenodo["license"], zenodo["publication_date"]) == (
        cff["title"], cff["version"], cff["license"], cff["date-released"])
    assert [c["name"] for c in zenodo["creators"]] == [a["name"] for a in cff["authors"]]
    assert zenodo["keywords"] == cff["keywords"]
    cited = {r["doi"] for r in cff["references"] if "doi" in r} | {
        i["value"] for r in cff["references"] for i in r.get("identifiers", [])}
    assert cited == {r["identifier"] for r in zenodo["related_identifiers"] if r["relation"] == "references"}


def test_the_intro_page_gives_a_bibtex_entry_that_agrees_with_citation_cff():
    cff = citation()
    block = re.search(r"```bibtex\n(@software\{.*?\n\})\n```", (ROOT / "book" / "intro.md").read_text(), re.S)
    assert block, "book/intro.md has no BibTeX entry for the book"
    fields = dict(re.findall(r"^\s+(\w+)\s*=\s*\{(.*)\},?$", block.group(1), re.M))
    assert fields["title"] == cff["title"] and fields["version"] == cff["version"]
    assert fields["author"] == "{" + cff["authors"][0]["name"] + "}"
    assert fields["year"] == cff["date-released"][:4] and fields["url"] == cff["url"]
    assert fields["license"] == cff["license"]


def test_every_citation_in_the_book_has_an_entry_in_references_bib():
    """sphinxcontrib-bibtex turns an unknown key into a warning, which fails the strict book build
    only after every chapter has run; this finds it in a second."""
    entries = set(re.findall(r"^@\w+\{([^,\s]+),", (ROOT / "book" / "references.bib").read_text(), re.M))
    sources = [*(ROOT / "book").glob("*.md"), *(ROOT / "notebooks").glob("*.ipynb")]
    cited = {}
    for source in sources:
        for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", source.read_text()):
            for key in keys.split(","):
                cited.setdefault(key.strip(), source.name)
    assert cited, "no citations found: the pattern no longer matches the book's role syntax"
    missing = {key: where for key, where in cited.items() if key not in entries}
    assert not missing, f"cited but not in book/references.bib: {missing}"
