"""Stored files, served by project and role, never by a guessable path alone.

Everything FaceLoop writes lives under ``projects/<project id>/<kind>/``
(:mod:`annotator.media_layout`): ``faces/`` (the
imported images), ``exports/job-<n>/`` (label sets and exported models) and ``models/job-<n>/``
(checkpoints, pre-training, embeddings, the faiss index, the pool's predictions). Faces are
shown to every member of their project; exports and model artefacts only to its owners, as
the API's download endpoint allows. A path that does not map onto that layout, or that
leaves its folder (``..``, an absolute path, a symbolic link pointing elsewhere), is answered
404, and so is every path of a project the user is not a member of, so that guessing paths
does not even tell which files exist.

Checked files of the media folder are streamed from disk in chunks (:class:`FileResponse`),
or, with ``MEDIA_SENDFILE`` set, handed to the front web server (nginx ``X-Accel-Redirect``,
Apache ``X-Sendfile``) so that a Python worker is not held for the transfer. Files of a remote
storage (:mod:`annotator.file_store`) are streamed through the app from the storage, or, with
``MEDIA_SENDFILE=signed-url``, answered with a redirect to a URL signed for
``FACELOOP_S3_URL_SECONDS``: the bucket itself is never public.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
)
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

from annotator import file_store
from annotator.media_layout import PROJECTS_FOLDER, MediaKind
from annotator.services.memberships import EVERY_ROLE, OWNERS, NotAMember, RoleRequired, require_membership

PROJECT_ID = re.compile(r"[1-9][0-9]{0,18}")
FACE_CACHE_SECONDS = 3600
MAX_NAME_LENGTH = 1024
"""The longest object key S3 allows, in bytes; a longer name is no stored file."""


@dataclass(frozen=True)
class MediaFile:
    """A stored file's name resolved to the project and folder it belongs to.

    ``absolute`` is its file in the media folder; None for a remote storage's object.
    """

    project_id: int
    kind: MediaKind
    relative: str
    absolute: Path | None


def _layout_place(raw: str) -> tuple[int, MediaKind] | None:
    """The project and folder of a name in its one canonical form, or None when it is not of the layout.

    No empty, ``.`` or ``..`` segment, no leading slash, no backslash: no two spellings reach one file.
    """
    segments = raw.split("/")
    if "\\" in raw or "\x00" in raw or any(segment in {"", ".", ".."} for segment in segments):
        return None
    if len(segments) < 4 or segments[0] != PROJECTS_FOLDER or not PROJECT_ID.fullmatch(segments[1]):
        return None
    try:
        return int(segments[1]), MediaKind(segments[2])
    except ValueError:
        return None


def resolve_stored_name(raw: str) -> MediaFile | None:
    """Map a requested name onto a stored file of the layout, or None when there is none."""
    if file_store.is_local():
        return resolve_media_path(raw, Path(settings.MEDIA_ROOT))
    place = _layout_place(raw)
    if place is None or len(raw) > MAX_NAME_LENGTH:
        return None
    return MediaFile(place[0], place[1], raw, None)  # whether it is stored is asked once it is served


def resolve_media_path(raw: str, media_root: Path) -> MediaFile | None:
    """Map a requested path onto the media folder's layout, or None when it is not a file of it.

    After symbolic links are followed the file must still lie inside its own project's
    ``kind`` folder.
    """
    place = _layout_place(raw)
    if place is None:
        return None
    segments, kind = raw.split("/"), place[1]
    root = media_root.resolve()
    try:
        folder = (root / PROJECTS_FOLDER / segments[1] / kind).resolve()
        absolute = (root / raw).resolve()
        inside = folder.is_relative_to(root) and absolute.is_relative_to(folder) and absolute.is_file()
    except (OSError, RuntimeError):  # a name too long for the file system; a symbolic link loop
        return None
    return MediaFile(place[0], kind, raw, absolute) if inside else None


def check_access(request: HttpRequest, media: MediaFile) -> None:
    """404 for a non-member (existence is not revealed), 403 for an annotator asking for owners' files."""
    try:
        require_membership(media.project_id, request.user, OWNERS if media.kind.owners_only else EVERY_ROLE)
    except NotAMember as error:
        raise Http404("No such file.") from error
    except RoleRequired as error:
        raise PermissionDenied("Only the project's owners may download this.") from error


@require_safe
@login_required
def protected_media(request: HttpRequest, path: str) -> HttpResponse:
    media = resolve_stored_name(path)
    if media is None:
        raise Http404("No such file.")
    check_access(request, media)
    return file_response(request, media)


def file_response(request: HttpRequest, media: MediaFile) -> HttpResponse:
    """The file itself, streamed or handed to the front server; faces inline, the rest as downloads."""
    if media.absolute is None:
        return _stored_object_response(request, media)
    stat = media.absolute.stat()
    if not was_modified_since(request.META.get("HTTP_IF_MODIFIED_SINCE"), int(stat.st_mtime)):
        return HttpResponseNotModified()
    attachment = media.kind is not MediaKind.FACES
    if settings.MEDIA_SENDFILE == "django":
        response: HttpResponse = FileResponse(
            media.absolute.open("rb"), as_attachment=attachment, filename=media.absolute.name
        )
    else:
        content_type, _ = mimetypes.guess_type(media.absolute.name)
        response = HttpResponse(content_type=content_type or "application/octet-stream")
        if settings.MEDIA_SENDFILE == "x-accel-redirect":
            response["X-Accel-Redirect"] = (
                settings.MEDIA_ACCEL_PREFIX.rstrip("/") + "/" + quote(media.relative)
            )
        else:
            response["X-Sendfile"] = str(media.absolute)
        if attachment:
            response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(media.absolute.name)}"
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Cache-Control"] = (
        f"private, max-age={FACE_CACHE_SECONDS}" if not attachment else "private, no-store"
    )
    return response


def _stored_object_response(request: HttpRequest, media: MediaFile) -> HttpResponse:
    """A remote storage's object: streamed through the app, or a redirect to a short-lived signed URL."""
    name = PurePosixPath(media.relative).name
    attachment = media.kind is not MediaKind.FACES
    if settings.MEDIA_SENDFILE == "signed-url":
        if not file_store.exists(media.relative):
            raise Http404("No such file.")
        response: HttpResponse = HttpResponseRedirect(
            file_store.signed_url(media.relative, download_as=name if attachment else None)
        )
        response["Cache-Control"] = "private, no-store"  # the URL expires: never reuse the redirect
        return response
    try:
        stored = file_store.open_object(media.relative)  # one GetObject: the bytes, size and date
    except FileNotFoundError as error:
        raise Http404("No such file.") from error
    modified = stored.modified.timestamp()
    if not was_modified_since(request.META.get("HTTP_IF_MODIFIED_SINCE"), int(modified)):
        stored.body.close()
        return HttpResponseNotModified()
    content_type, _ = mimetypes.guess_type(name)
    response = FileResponse(
        stored.body,
        as_attachment=attachment,
        filename=name,
        content_type=content_type or "application/octet-stream",
    )
    response["Content-Length"] = str(stored.size)
    response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = (
        f"private, max-age={FACE_CACHE_SECONDS}" if not attachment else "private, no-store"
    )
    return response
