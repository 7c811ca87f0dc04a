"""Server-rendered pages of the dialog app: the list, a dialog, the new-dialog form, blocks.

Every page works without JavaScript: plain links and POST forms. With it, static/dialog/dialog.js
makes them live (new messages, edits, deletions, read receipts, "typing…"). Only participants see a
dialog: anyone else, staff included, gets the 404 page, whatever id they try. Refusals of the services
come back as form errors with their status (400, 403, 409, 429 with Retry-After).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.dialog import forms, selectors, services
from apps.user.services import users_brief
from forum.errors import ApplicationError, NotFound
from forum.forms import add_application_error
from forum.paging import page_number
from forum.uploads import THUMBNAIL_CONTENT_TYPE, serve_download


def _member_id(request: HttpRequest) -> int:
    assert request.user.pk is not None, "login_required lets only members in"
    return int(request.user.pk)


def _dialog_or_404(member_id: int, dialog_id: int) -> selectors.DialogRow:
    dialog = selectors.dialog_row(viewer_id=member_id, dialog_id=dialog_id)
    if dialog is None:
        raise NotFound(_("There is no such dialog."))
    return dialog


def _refused(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    form: Any,
    error: ApplicationError,
    **map: str,
) -> HttpResponse:
    add_application_error(form, error, field_map=map)
    response = render(request, template, context, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _ids_for(usernames: Sequence[str]) -> list[int]:
    """Member ids of the names; a name nobody has becomes 0, which the services refuse exactly as a
    member who cannot be written to (the writer learns nothing more)."""
    found = selectors.member_ids_by_username(usernames=usernames)
    return [found.get(name.lower(), 0) for name in usernames]


def _uploaded(member_id: int, dialog_id: int, files: Sequence[UploadedFile[bytes]]) -> list[int]:
    """Store the files of a page's form as the member's uploads waiting in the dialog (all or none)."""
    ids: list[int] = []
    try:
        for file in files:
            ids.append(
                services.attachment_upload(
                    uploader_id=member_id, dialog_id=dialog_id, file=file, field_name="attachments"
                ).id
            )
    except BaseException:
        services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
        raise
    return ids


def _send(
    member_id: int, dialog_id: int, body: str, files: Sequence[UploadedFile[bytes]], ready: Sequence[int] = ()
) -> int:
    """Write the message with the form's files and the uploads the composer made beforehand
    (``ready``); on a refusal only the form's files are discarded: the form shown again still
    carries the others."""
    ids: list[int] = []
    try:
        ids = _uploaded(member_id, dialog_id, files)
        return services.message_create(
            author_id=member_id, dialog_id=dialog_id, body=body, attachment_ids=[*ready, *ids]
        ).id
    except ApplicationError:
        services.attachments_discard(uploader_id=member_id, attachment_ids=ids)
        raise


def _dialog_url(dialog_id: int, message_id: int | None = None) -> str:
    url = reverse("dialog:detail", args=[dialog_id])
    return f"{url}#message-{message_id}" if message_id else url


# --- The list -----------------------------------------------------------------------------------------


@never_cache
@login_required
def dialog_list(request: HttpRequest) -> HttpResponse:
    member_id = _member_id(request)
    page = selectors.dialog_page(viewer_id=member_id, page=page_number(request.GET.get("page")))
    context = {
        "dialogs": page,
        "settings_form": forms.DialogSettingsForm.of_member(member_id, next_url=reverse("dialog:list")),
    }
    return render(request, "dialog/list.html", context)


@never_cache
@login_required
@require_POST
def dialog_settings(request: HttpRequest) -> HttpResponse:
    form = forms.DialogSettingsForm(request.POST)
    form.is_valid()  # checkboxes and a hidden field: always valid
    services.dialog_settings_set(
        user_id=_member_id(request),
        followed_only=bool(form.cleaned_data.get("followed_only")),
        enter_sends=bool(form.cleaned_data.get("enter_sends")),
    )
    messages.success(request, _("Your choice is saved."))
    back = form.cleaned_data.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("dialog:list")
    return redirect(back)


# --- Starting a dialog --------------------------------------------------------------------------------


@never_cache
@login_required
def dialog_new(request: HttpRequest) -> HttpResponse:
    member_id = _member_id(request)
    if request.method != "POST":
        initial = {}
        to = forms.message_cursor(request.GET.get("to"))
        if to is not None:
            initial["recipients"] = ", ".join(brief.username for brief in users_brief(user_ids=[to]))
        return render(request, "dialog/new.html", {"form": forms.NewDialogForm(initial=initial)})
    form = forms.NewDialogForm(request.POST, request.FILES)
    context = {"form": form}
    if not form.is_valid():
        return render(request, "dialog/new.html", context, status=400)
    names: list[str] = form.cleaned_data["recipients"]
    title: str = form.cleaned_data["title"]
    try:
        ids = _ids_for(names)
        if len(ids) == 1 and not title.strip():
            dialog = services.dialog_start(starter_id=member_id, recipient_id=ids[0])
        else:
            dialog = services.dialog_group_start(owner_id=member_id, title=title, participant_ids=ids)
    except ApplicationError as error:
        return _refused(request, "dialog/new.html", context, form, error, participant_ids="recipients")
    try:
        message_id = _send(member_id, dialog.id, form.cleaned_data["body"], form.cleaned_data["attachments"])
    except ApplicationError as error:
        # The dialog stands (or stood already); the message is refused with the reason on the form.
        return _refused(request, "dialog/new.html", context, form, error, participant_ids="recipients")
    return redirect(_dialog_url(dialog.id, message_id))


# --- A dialog -----------------------------------------------------------------------------------------


def _dialog_context(
    member_id: int, dialog: selectors.DialogRow, page: selectors.MessagePage, **extra: Any
) -> dict[str, Any]:
    last = page.items[-1] if page.items else None
    seen_by = [
        p.username
        for p in dialog.others
        if last is not None and p.user_id != last.author_id and p.last_read_message_id >= last.id
    ]
    other = dialog.others[0] if not dialog.is_group and dialog.others else None
    context = {
        "dialog": dialog,
        "page": page,
        "seen_by": seen_by,
        "other": other,
        "other_blocked": other is not None
        and services.block_exists(user_id=member_id, blocked_id=other.user_id),
        "message_form": forms.MessageForm(),
        # The day separators (days as the page's |date:"Y-m-d" gives them, in the zone times are shown in).
        "today": timezone.localdate().isoformat(),
        "yesterday": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "enter_sends": services.dialog_settings_get(user_id=member_id).enter_sends,
        "add_form": forms.AddParticipantsForm(),
        "rename_form": forms.RenameForm(initial={"title": dialog.title}),
    }
    context.update(extra)
    return context


@never_cache
@login_required
def dialog_detail(request: HttpRequest, dialog_id: int) -> HttpResponse:
    member_id = _member_id(request)
    dialog = _dialog_or_404(member_id, dialog_id)
    before = forms.message_cursor(request.GET.get("before"))
    after = None if before is not None else forms.message_cursor(request.GET.get("after"))
    page = selectors.message_page(dialog=dialog, before=before, after=after)
    if page.items and page.items[-1].id > dialog.last_read_message_id:
        # Opening the page is reading what it shows.
        read = services.dialog_mark_read(user_id=member_id, dialog_id=dialog_id, message_id=page.items[-1].id)
        dialog, page = selectors.with_read_position(
            dialog=dialog, page=page, position=read.last_read_message_id, unread_count=read.unread_count
        )
    return render(request, "dialog/dialog.html", _dialog_context(member_id, dialog, page))


@never_cache
@login_required
@require_POST
def message_new(request: HttpRequest, dialog_id: int) -> HttpResponse:
    member_id = _member_id(request)
    dialog = _dialog_or_404(member_id, dialog_id)
    form = forms.MessageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            message_id = _send(
                member_id,
                dialog_id,
                form.cleaned_data["body"],
                form.cleaned_data["attachments"],
                form.cleaned_data["attachment_ids"],
            )
        except ApplicationError as error:
            page = selectors.message_page(dialog=dialog)
            context = _dialog_context(member_id, dialog, page, message_form=form)
            return _refused(request, "dialog/dialog.html", context, form, error)
        return redirect(_dialog_url(dialog_id, message_id))
    page = selectors.message_page(dialog=dialog)
    return render(
        request, "dialog/dialog.html", _dialog_context(member_id, dialog, page, message_form=form), status=400
    )


def _own_message(member_id: int, message_id: int) -> tuple[selectors.DialogRow, selectors.MessageRow]:
    location = selectors.message_location(message_id=message_id)
    if location is None or location.deleted:
        raise NotFound(_("There is no such message."))
    dialog = _dialog_or_404(member_id, location.dialog_id)
    message = selectors.message_one(dialog=dialog, message_id=message_id)
    if message is None:
        raise NotFound(_("There is no such message."))
    return dialog, message


@never_cache
@login_required
def message_edit(request: HttpRequest, message_id: int) -> HttpResponse:
    member_id = _member_id(request)
    dialog, message = _own_message(member_id, message_id)
    form = forms.EditForm(request.POST if request.method == "POST" else None, initial={"body": message.body})
    context = {"dialog": dialog, "message": message, "form": form}
    if request.method == "POST" and form.is_valid():
        try:
            services.message_edit(editor_id=member_id, message_id=message_id, body=form.cleaned_data["body"])
        except ApplicationError as error:
            return _refused(request, "dialog/message_edit.html", context, form, error)
        return redirect(_dialog_url(dialog.id, message_id))
    return render(request, "dialog/message_edit.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
@require_POST
def message_delete(request: HttpRequest, message_id: int) -> HttpResponse:
    member_id = _member_id(request)
    dialog, _message = _own_message(member_id, message_id)
    services.message_delete(user_id=member_id, message_id=message_id)
    messages.success(request, _("The message is deleted."))
    return redirect(_dialog_url(dialog.id))


# --- Groups -------------------------------------------------------------------------------------------


@never_cache
@login_required
@require_POST
def participants_add(request: HttpRequest, dialog_id: int) -> HttpResponse:
    member_id = _member_id(request)
    dialog = _dialog_or_404(member_id, dialog_id)
    form = forms.AddParticipantsForm(request.POST)
    error: ApplicationError | None = None
    if form.is_valid():
        try:
            services.participants_add(
                owner_id=member_id, dialog_id=dialog_id, user_ids=_ids_for(form.cleaned_data["usernames"])
            )
        except ApplicationError as refused:
            error = refused
        else:
            messages.success(request, _("The members are added."))
            return redirect(_dialog_url(dialog_id))
    context = _dialog_context(member_id, dialog, selectors.message_page(dialog=dialog), add_form=form)
    if error is not None:
        return _refused(request, "dialog/dialog.html", context, form, error, participant_ids="usernames")
    return render(request, "dialog/dialog.html", context, status=400)


@never_cache
@login_required
@require_POST
def participant_remove(request: HttpRequest, dialog_id: int, user_id: int) -> HttpResponse:
    member_id = _member_id(request)
    if user_id == member_id:
        services.dialog_leave(user_id=member_id, dialog_id=dialog_id)
        messages.success(request, _("You left the dialog."))
        return redirect("dialog:list")
    services.participant_remove(owner_id=member_id, dialog_id=dialog_id, user_id=user_id)
    messages.success(request, _("The member is removed."))
    return redirect(_dialog_url(dialog_id))


@never_cache
@login_required
@require_POST
def dialog_leave(request: HttpRequest, dialog_id: int) -> HttpResponse:
    services.dialog_leave(user_id=_member_id(request), dialog_id=dialog_id)
    messages.success(request, _("You left the dialog."))
    return redirect("dialog:list")


@never_cache
@login_required
@require_POST
def dialog_rename(request: HttpRequest, dialog_id: int) -> HttpResponse:
    member_id = _member_id(request)
    dialog = _dialog_or_404(member_id, dialog_id)
    form = forms.RenameForm(request.POST)
    if form.is_valid():
        try:
            services.dialog_rename(owner_id=member_id, dialog_id=dialog_id, title=form.cleaned_data["title"])
        except ApplicationError as error:
            context = _dialog_context(
                member_id, dialog, selectors.message_page(dialog=dialog), rename_form=form
            )
            return _refused(request, "dialog/dialog.html", context, form, error)
        return redirect(_dialog_url(dialog_id))
    context = _dialog_context(member_id, dialog, selectors.message_page(dialog=dialog), rename_form=form)
    return render(request, "dialog/dialog.html", context, status=400)


# --- Blocks -------------------------------------------------------------------------------------------


@never_cache
@login_required
def blocks(request: HttpRequest) -> HttpResponse:
    """The members one blocked, a form to block one by name, and (from a dialog page) by id."""
    member_id = _member_id(request)
    form = forms.BlockForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        raw_id = request.POST.get("user_id", "")
        try:
            if raw_id:
                blocked_id = forms.message_cursor(raw_id) or 0
                services.block_add(user_id=member_id, blocked_id=blocked_id)
                messages.success(request, _("The member is blocked."))
                back = forms.message_cursor(request.POST.get("dialog_id"))
                return redirect(_dialog_url(back) if back else reverse("dialog:blocks"))
            if form.is_valid():
                found = selectors.member_ids_by_username(usernames=[form.cleaned_data["username"]])
                blocked_id = next(iter(found.values()), 0)
                services.block_add(user_id=member_id, blocked_id=blocked_id)
                messages.success(request, _("The member is blocked."))
                return redirect("dialog:blocks")
        except ApplicationError as error:
            context = {"blocks": selectors.blocks_of(user_id=member_id), "form": form}
            return _refused(request, "dialog/blocks.html", context, form, error)
    context = {"blocks": selectors.blocks_of(user_id=member_id), "form": form}
    return render(request, "dialog/blocks.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
@require_POST
def unblock(request: HttpRequest, user_id: int) -> HttpResponse:
    services.block_remove(user_id=_member_id(request), blocked_id=user_id)
    messages.success(request, _("The member is no longer blocked."))
    return redirect("dialog:blocks")


# --- Files --------------------------------------------------------------------------------------------


def attachment_download(
    request: HttpRequest, attachment_id: int, name: str, thumbnail: bool = False
) -> HttpResponseBase:
    """The only way to a dialog attachment's bytes: 404 unless the viewer takes part in its dialog (or,
    before a message takes it, uploaded it), whatever the id or name guessed; staff included."""
    viewer_id = (
        int(request.user.pk) if request.user.is_authenticated and request.user.pk is not None else None
    )
    found = selectors.attachment_for_download(viewer_id=viewer_id, attachment_id=attachment_id)
    if found is None or (thumbnail and not found.thumbnail_key):
        raise NotFound(_("There is no such file."))
    response = serve_download(
        request,
        storage_key=found.thumbnail_key if thumbnail else found.storage_key,
        content_type=THUMBNAIL_CONTENT_TYPE if thumbnail else found.content_type,
        filename=found.original_name,
        as_attachment=not found.content_type.startswith("image/"),
    )
    response["Vary"] = "Cookie"
    return response
