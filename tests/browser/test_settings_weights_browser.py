"""Settings in Chromium: the owner picks a representative first batch and gives (and removes) a
ResNet-18 of their own; a file that is no state dict is refused on the page with the reason."""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torchvision.models import resnet18

from annotator.models import Project
from tests.annotator.factories import make_project
from tests.browser.conftest import BROWSER_TEST_MARKS, SCREENSHOTS, log_in, wait_for

pytestmark = BROWSER_TEST_MARKS


def test_owner_sets_the_first_batch_and_starting_weights(live_server, browser_page, tmp_path: Path):
    project = make_project(model_name="resnet18", ssl_method="simclr")
    weights = tmp_path / "imagenet-resnet18.pth"
    buffer = io.BytesIO()
    torch.save(resnet18(weights=None).state_dict(), buffer)
    weights.write_bytes(buffer.getvalue())
    (tmp_path / "notes.pt").write_text("not weights")
    page = browser_page
    log_in(page, live_server, project.owner.username, f"/projects/{project.pk}/settings/")

    page.wait_for_selector("#weights-status:has-text('None')")
    page.select_option("#initial_selection", "typiclust")
    assert "most typical face" in page.text_content("#initial_selection-help")
    page.click("#save")
    page.wait_for_selector("#saved:has-text('initial_selection')")
    assert Project.objects.get(pk=project.pk).initial_selection == "typiclust"

    page.set_input_files("#weights-file", str(tmp_path / "notes.pt"))
    page.click("#weights-upload")
    page.wait_for_selector("#weights-error:has-text('not a PyTorch weights file')")
    assert Project.objects.get(pk=project.pk).backbone_weights == ""

    page.set_input_files("#weights-file", str(weights))
    page.click("#weights-upload")
    page.wait_for_selector("#weights-status:has-text('tensors loaded')")
    status = page.text_content("#weights-status")
    assert (
        "imagenet-resnet18.pth" in status
        and "RGB summed to one channel" in status
        and "fc.weight left out" in status
    )
    assert page.text_content("#weights-error") == ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "settings-weights.png"), full_page=True)
    wait_for(lambda: Project.objects.get(pk=project.pk).backbone_weights != "")

    page.click("#weights-remove")
    page.wait_for_selector("#weights-status:has-text('None')")
    assert Project.objects.get(pk=project.pk).backbone_weights == ""
