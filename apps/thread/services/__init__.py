"""Published interface of the thread app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

Who may do what is the permission engine's answer (apps.authorization.services). Counters on forums
and threads are kept right in the transaction of each change, under row locks taken in one order
(thread, then forum, forums by id) so that concurrent changes neither deadlock nor lose a count.

A member without ``post.skip_premoderation`` (an escalation's "premoderate" takes it away) has their
replies held for a moderator (premoderation.py): seen by the author and moderators only, counted and
announced nowhere until approved.

The functions live in one module per concern (forums, threads, posts, premoderation, moderation,
attachments, reactions, bookmarks, drafts, visibility; the plain data in refs, what they share in
_common); this package publishes them under the names callers have always used.
"""

from apps.thread.services._common import MODERATE as MODERATE
from apps.thread.services.attachments import ORPHAN_BATCH_SIZE as ORPHAN_BATCH_SIZE
from apps.thread.services.attachments import (
    AttachmentRef,
    attachment_count_check,
    attachment_upload,
    attachments_delete_orphans,
    attachments_discard,
)
from apps.thread.services.bookmarks import BookmarkRef, bookmark_remove, bookmark_set
from apps.thread.services.drafts import DraftRef, draft_delete, draft_get, draft_save, drafts_delete_stale
from apps.thread.services.forums import ForumChoice, forum_create, forums_for_move
from apps.thread.services.moderation import (
    PendingThreadRow,
    moderation_require,
    thread_approve,
    thread_close,
    thread_delete,
    thread_move,
    thread_pin,
    thread_reject,
    thread_reopen,
    thread_unpin,
    threads_pending,
)
from apps.thread.services.posts import (
    post_create,
    post_delete,
    post_edit,
    post_edit_check,
    post_preview,
    post_restore,
)
from apps.thread.services.premoderation import (
    PendingPostRow,
    permissions_declare,
    post_approve,
    post_reject,
    posts_pending,
)
from apps.thread.services.reactions import (
    ReactionRef,
    reaction_clear,
    reaction_kinds,
    reaction_scores_for,
    reaction_set,
)
from apps.thread.services.refs import ForumRef, PostRef, ThreadRef
from apps.thread.services.threads import thread_create, thread_mark_read, thread_start_check
from apps.thread.services.visibility import REPORT_EXCERPT_LENGTH as REPORT_EXCERPT_LENGTH
from apps.thread.services.visibility import (
    ReportedContent,
    forum_names_visible_to,
    forum_visible_to,
    post_brief_for_report,
    thread_brief_for_report,
    thread_get,
    thread_readers_filter,
    thread_titles_visible_to,
    thread_visible_to,
)

__all__ = [
    "AttachmentRef",
    "BookmarkRef",
    "DraftRef",
    "ForumChoice",
    "ForumRef",
    "PendingPostRow",
    "PendingThreadRow",
    "PostRef",
    "ReactionRef",
    "ReportedContent",
    "ThreadRef",
    "attachment_count_check",
    "attachment_upload",
    "attachments_delete_orphans",
    "attachments_discard",
    "bookmark_remove",
    "bookmark_set",
    "draft_delete",
    "draft_get",
    "draft_save",
    "drafts_delete_stale",
    "forum_create",
    "forum_names_visible_to",
    "forum_visible_to",
    "forums_for_move",
    "moderation_require",
    "permissions_declare",
    "post_approve",
    "post_brief_for_report",
    "post_create",
    "post_delete",
    "post_edit",
    "post_edit_check",
    "post_preview",
    "post_reject",
    "post_restore",
    "posts_pending",
    "reaction_clear",
    "reaction_kinds",
    "reaction_scores_for",
    "reaction_set",
    "thread_approve",
    "thread_brief_for_report",
    "thread_close",
    "thread_create",
    "thread_delete",
    "thread_get",
    "thread_mark_read",
    "thread_move",
    "thread_pin",
    "thread_readers_filter",
    "thread_reject",
    "thread_reopen",
    "thread_start_check",
    "thread_titles_visible_to",
    "thread_unpin",
    "thread_visible_to",
    "threads_pending",
]
