"""Control and direction-changing characters are refused in every typed name, and old ones still export."""

from __future__ import annotations

import uuid
import zipfile

import pytest

from annotator.models import Exclusion, Project, ProjectClass
from annotator.services import exports, projects, votes
from annotator.services.errors import InvalidInput
from annotator.services.names import exportable_names
from ml_engine.export.label_export import LabelFile
from tests.annotator.factories import UserFactory, make_labeling_project, make_project

pytestmark = pytest.mark.django_db

REFUSED = {
    "NUL": "\x00",
    "BEL": "\x07",
    "ESC": "\x1b",
    "LF": "\n",
    "TAB": "\t",
    "DEL": "\x7f",
    "NEL": "\x85",
    "APC": "\x9f",
    "LRE": "\u202a",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "PDI": "\u2069",
    "LSEP": "\u2028",
    "PSEP": "\u2029",
}
"""C0, DEL, C1, bidirectional embeddings, overrides and isolates, line and paragraph separators."""

NEW_PROJECT = {
    "name": "Expressions",
    "budget_votes": 500,
    "classes": [{"name": "neutral"}, {"name": "happiness"}],
}


def inside(character: str) -> str:
    """``character`` between letters, where stripping whitespace cannot remove it."""
    return f"hap{character}py"


def refusal(character: str) -> str:
    """How a field's error starts: DRF itself refuses NUL in every CharField, in its own words."""
    return "Null characters are not allowed." if character == "\x00" else f"It holds U+{ord(character):04X} ("


def class_errors(response, index: int) -> dict:
    """The errors of class ``index`` (DRF answers a list, or a dict keyed by position)."""
    errors = response.json()["classes"]
    return errors[index] if isinstance(errors, list) else errors[str(index)]


@pytest.mark.parametrize("character", REFUSED.values(), ids=REFUSED.keys())
def test_a_new_projects_name_and_class_names_refuse_it_naming_the_field(client_for, character):
    client = client_for(UserFactory())

    name = client.post("/api/projects/", {**NEW_PROJECT, "name": inside(character)}, format="json")
    classes = [{"name": "neutral"}, {"name": inside(character)}]
    class_name = client.post("/api/projects/", {**NEW_PROJECT, "classes": classes}, format="json")

    assert name.status_code == 400 and list(name.json()) == ["name"]
    assert name.json()["name"][0].startswith(refusal(character))
    assert class_name.status_code == 400 and list(class_name.json()) == ["classes"]
    assert list(class_errors(class_name, 1)) == ["name"]
    assert class_errors(class_name, 1)["name"][0].startswith(refusal(character))
    assert Project.objects.count() == 0
    assert client.post("/api/projects/", NEW_PROJECT, format="json").status_code == 201


@pytest.mark.parametrize("character", REFUSED.values(), ids=REFUSED.keys())
def test_renames_class_replacements_and_keys_refuse_it(client_for, character):
    project = make_project()
    client = client_for(project.owner)
    before = list(project.classes.order_by("index").values_list("name", "key"))

    renamed = client.patch(f"/api/projects/{project.pk}/", {"name": inside(character)}, format="json")
    replaced = client.put(
        f"/api/projects/{project.pk}/classes/",
        {"classes": [{"name": "calm"}, {"name": inside(character)}]},
        format="json",
    )

    assert renamed.status_code == 400 and list(renamed.json()) == ["name"]
    assert renamed.json()["name"][0].startswith(refusal(character))
    assert replaced.status_code == 400 and list(class_errors(replaced, 1)) == ["name"]
    if character.strip():  # a key of whitespace alone is trimmed to none by DRF, and gets the default
        keyed = client.put(
            f"/api/projects/{project.pk}/classes/",
            {"classes": [{"name": "calm", "key": character}, {"name": "glad"}]},
            format="json",
        )
        assert keyed.status_code == 400 and list(class_errors(keyed, 0)) == ["key"]
        assert class_errors(keyed, 0)["key"][0].startswith(refusal(character))
    project.refresh_from_db()
    assert project.name == "Faces"
    assert list(project.classes.order_by("index").values_list("name", "key")) == before


@pytest.mark.parametrize(
    "character",
    [c for c in REFUSED.values() if c not in "\n\t"],
    ids=[k for k in REFUSED if k not in ("LF", "TAB")],
)
def test_free_text_refuses_it_but_keeps_tabs_and_line_breaks(client_for, character):
    project = make_labeling_project()
    client = client_for(project.owner)
    face = project.cycles.get(number=0).entries.first().face_id
    url = f"/api/projects/{project.pk}/faces/{face}/exclusion/"

    description = client.patch(
        f"/api/projects/{project.pk}/", {"description": inside(character)}, format="json"
    )
    note = client.post(url, {"reason": "not_a_face", "note": inside(character)}, format="json")

    assert description.status_code == 400 and list(description.json()) == ["description"]
    assert note.status_code == 400 and list(note.json()) == ["note"]
    assert Exclusion.objects.count() == 0
    text = "first line\n\tsecond line\r\n"
    assert (
        client.patch(f"/api/projects/{project.pk}/", {"description": text}, format="json").status_code == 200
    )
    assert client.post(url, {"reason": "not_a_face", "note": text}, format="json").status_code == 201


def test_a_bar_in_a_class_name_is_refused_since_exports_separate_candidates_with_it(client_for):
    classes = [{"name": "neutral"}, {"name": "happy|sad"}]
    response = client_for(UserFactory()).post(
        "/api/projects/", {**NEW_PROJECT, "classes": classes}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["classes"][1]["name"] == [
        "A class name may not hold '|': label exports separate candidate classes with it."
    ]


@pytest.mark.parametrize(
    "classes",
    [
        [projects.ClassSpec("neutral"), projects.ClassSpec("ha\x1bppy")],
        [projects.ClassSpec("neutral"), projects.ClassSpec("happy", key="\x07")],
        [projects.ClassSpec("neutral"), projects.ClassSpec("a|b")],
    ],
    ids=["name", "key", "bar"],
)
def test_every_other_caller_of_the_services_is_refused_too(classes):
    owner = UserFactory()
    with pytest.raises(InvalidInput, match=r"^class 2 (name|key): "):
        projects.create_project(owner, name="Imported", classes=classes)
    with pytest.raises(InvalidInput, match=r"^name: It holds U\+0000 "):
        projects.create_project(owner, name="Im\x00ported", classes=[*classes[:1], projects.ClassSpec("b")])
    assert Project.objects.count() == 0


def project_with_stored_names(names: dict[int, str]) -> Project:
    """A project whose class names were written before they were checked, and three faces labeled."""
    project = make_labeling_project()
    for index, name in names.items():
        ProjectClass.objects.filter(project=project, index=index).update(name=name)
    for entry in project.cycles.get(number=0).entries.order_by("position")[:3]:
        answer = votes.Answer("label", (0,))
        votes.submit_vote(
            project, project.owner, face_id=entry.face_id, answer=answer, client_id=uuid.uuid4()
        )
    return project


@pytest.mark.parametrize("format", ["csv", "jsonl", "imagefolder"])
def test_class_names_stored_before_the_check_export_again(tmp_path, format):
    project = project_with_stored_names({0: "\x1bneutral\x07", 1: "happi\nness", 2: "sur|prise"})

    path, details = exports.write_export(project, "labels", format, None, tmp_path)

    # Every split is exported: 10 pool faces and 2 test faces; the image folders hold the labeled
    # ones only (the 3 voted pool faces and the 2 test faces with their imported labels).
    assert details["rows"] == (5 if format == "imagefolder" else 12)
    if format == "imagefolder":
        with zipfile.ZipFile(path) as archive:
            assert {name.split("/")[0] for name in archive.namelist()} == {"neutral", "happi ness"}
    else:
        assert LabelFile(path).class_names == ("neutral", "happi ness", "sur/prise", "sadness")
        assert "\x1b" not in path.read_text() and "\x07" not in path.read_text()


def test_ferplus_names_stored_with_control_characters_export_as_ferplus(tmp_path):
    project = project_with_stored_names({0: "\x1bneutral\x07", 1: "\u202ehappiness\u202c"})

    path, details = exports.write_export(project, "labels", "ferplus", None, tmp_path)

    assert details["rows"] == 12
    with zipfile.ZipFile(path) as archive:
        label_files = [
            archive.read(name).decode() for name in archive.namelist() if name.endswith("label.csv")
        ]
    assert sum(text.count("\n") for text in label_files) == 12
    assert not any("\x1b" in text or "\u202e" in text for text in label_files)


def test_exportable_names_stay_distinct_and_never_empty():
    assert exportable_names(["happy", "hap\x00py", "HAPPY\u202e", "\x1b\x07", "a|b"]) == [
        "happy",
        "hap py",
        "HAPPY (2)",
        "class 4",
        "a/b",
    ]
