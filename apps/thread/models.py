"""Tables of the thread app: the forum tree, threads, posts, their edit history, read marks,
attachments, reactions and the members' reaction scores.

Counters (threads, posts, last post) are denormalised on Forum and Thread and kept right by the
services, inside the transaction that changes them, under a row lock on the forum. Reaction counts
live on the post and change only under the post's row lock.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# A category is depth 0; forums and subforums nest below it down to this many levels in all.
MAX_DEPTH = 5
TITLE_MAX_LENGTH = 150
BODY_MAX_LENGTH = 50_000
REASON_MAX_LENGTH = 500


class ForumKind(models.TextChoices):
    CATEGORY = "category", _("Category")
    FORUM = "forum", _("Forum")


class Forum(models.Model):
    """A node of the tree: a category (holds forums, no threads) or a forum (holds threads, subforums)."""

    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    kind = models.CharField(max_length=10, choices=ForumKind.choices, default=ForumKind.FORUM)
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(max_length=100, allow_unicode=True)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    # Codes of permissions of the engine's registry: who may see the forum (and everything below it),
    # and who may start threads and reply in it.
    read_permission = models.CharField(max_length=80, default="forum.read")
    post_permission = models.CharField(max_length=80, default="thread.create")
    # Denormalised, kept by the services: approved threads not deleted, and their visible posts.
    thread_count = models.PositiveIntegerField(default=0, editable=False)
    post_count = models.PositiveIntegerField(default=0, editable=False)
    last_post_id = models.BigIntegerField(null=True, blank=True, editable=False)
    last_post_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_thread_id = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["depth", "position", "id"]
        verbose_name = _("forum")
        verbose_name_plural = _("forums")

    def __str__(self) -> str:
        return self.name


class ThreadState(models.TextChoices):
    PENDING = "pending", _("Awaiting moderation")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class Thread(models.Model):
    forum = models.ForeignKey(Forum, on_delete=models.PROTECT, related_name="threads")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    slug = models.SlugField(max_length=TITLE_MAX_LENGTH, allow_unicode=True)
    state = models.CharField(max_length=10, choices=ThreadState.choices, default=ThreadState.PENDING)
    rejection_reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    moderated_by_id = models.BigIntegerField(null=True, blank=True)
    moderated_at = models.DateTimeField(null=True, blank=True)
    closed = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    # Denormalised: visible posts, the last one, and the highest position given out.
    post_count = models.PositiveIntegerField(default=0)
    last_post_id = models.BigIntegerField(null=True, blank=True)
    last_post_at = models.DateTimeField()
    last_poster_id = models.BigIntegerField(null=True, blank=True)
    last_position = models.PositiveIntegerField(default=0)
    first_post_id = models.BigIntegerField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pinned", "-last_post_at", "-id"]
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        indexes = [
            models.Index(fields=["forum", "state", "-pinned", "-last_post_at"], name="thread_forum_list"),
            models.Index(fields=["state", "created_at"], name="thread_state_created"),
            # A forum's most recently active threads, whatever their state (the unread markers).
            models.Index(fields=["forum", "-last_post_at"], name="thread_forum_recent"),
        ]

    def __str__(self) -> str:
        return self.title


class Post(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # 1 for the opening post; never reused, so links to a position stay good after deletions.
    position = models.PositiveIntegerField()
    body = models.TextField(_("body"))
    body_html = models.TextField()
    created_at = models.DateTimeField()
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by_id = models.BigIntegerField(null=True, blank=True)
    # {"like": 3, "wow": 1}: reactions per kind, kept by the services under this row's lock.
    reaction_counts = models.JSONField(default=dict, blank=True, editable=False)
    # A reply of a member whose posts are premoderated (without ``post.skip_premoderation``), waiting
    # for a moderator: seen by its author and moderators only, counted nowhere. Its position is the
    # one it would have had when written, not reserved (several may share it); approval gives it the
    # thread's next one. A rejected reply is deleted and keeps the flag and the reason.
    held = models.BooleanField(default=False)
    rejection_reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)

    class Meta:
        ordering = ["thread", "position"]
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "position"], condition=models.Q(held=False), name="post_thread_position"
            )
        ]
        indexes = [
            # The moderation queue: replies awaiting approval, oldest first.
            models.Index(
                fields=["created_at", "id"],
                condition=models.Q(held=True, deleted_at__isnull=True),
                name="post_held_queue",
            ),
            # A thread's deleted posts, a few: where a page of posts starts and the page of a position,
            # without counting the visible posts before it (selectors._deleted_before_sql).
            models.Index(
                fields=["thread", "position"],
                condition=models.Q(deleted_at__isnull=False, held=False),
                name="post_thread_deleted",
            ),
        ]

    def __str__(self) -> str:
        # Shown by the admin (messages, the post's page): load the thread with the post there.
        return str(_("#%(position)d in “%(thread)s”")) % {
            "position": self.position,
            "thread": self.thread.title,
        }


class PostEdit(models.Model):
    """What a post said before one edit, which attachments it added and removed, and who changed it."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="edits")
    editor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body_before = models.TextField()
    edited_at = models.DateTimeField()
    # What the edit did to the attachments, as [{"id": 7, "name": "cat.png"}, ...]: the names are kept
    # because a removed attachment's row and files are gone.
    attachments_added = models.JSONField(default=list, blank=True)
    attachments_removed = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["post", "edited_at", "id"]

    def __str__(self) -> str:
        return f"edit of {self.post_id} at {self.edited_at:%Y-%m-%d %H:%M}"


class ReadMark(models.Model):
    """How far a member has read a thread: the highest post position seen."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="+")
    last_read_position = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "thread"], name="readmark_user_thread")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.thread_id} to {self.last_read_position}"


# Uploads of one member not yet on a post: enough for a post being written, not a free file store.
PENDING_ATTACHMENTS_MAX = 20


class PostAttachment(models.Model):
    """A file on a post (forum.uploads stored it). Uploaded first, then attached when the post is
    written: until then ``post`` is empty and the file is its uploader's alone."""

    post = models.ForeignKey(
        Post, on_delete=models.PROTECT, null=True, blank=True, related_name="attachments"
    )
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    storage_key = models.CharField(max_length=255)
    thumbnail_key = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        indexes = [models.Index(fields=["uploader", "post"], name="attachment_uploader_post")]

    def __str__(self) -> str:
        return self.original_name


# Names of the usual kinds of reaction (THREAD_REACTION_KINDS); another kind shows as it is spelt.
# Their emoji are the stylesheet's (static/thread/thread.css, by kind): another kind shows none.
REACTION_LABELS = {
    "like": _("Like"),
    "love": _("Love"),
    "haha": _("Haha"),
    "wow": _("Wow"),
    "sad": _("Sad"),
    "angry": _("Angry"),
}


class Reaction(models.Model):
    """One member's reaction to one post; its kind may change."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "user"], name="reaction_post_user")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.post_id}"


class MemberScore(models.Model):
    """A member's counters, kept by the services in the transactions that change them: the reactions
    their posts have received, and their posts that count (not deleted, in an approved thread not
    deleted). Every author card of a page of posts shows the count, read with the posts: counting
    a prolific member's posts on each page would cost more with every post they write."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    reactions_received = models.IntegerField(default=0)
    # A default in the table too: the services' upserts of the other counter leave this one out.
    post_count = models.IntegerField(default=0, db_default=0)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.reactions_received}"


BOOKMARK_NOTE_MAX_LENGTH = 200


class Bookmark(models.Model):
    """A post a member keeps for later, with a note of their own. It stays when the post goes out of
    their sight (deleted, moved, pending): the list hides it then rather than losing it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(_("note"), max_length=BOOKMARK_NOTE_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["user", "-created_at", "-id"]
        verbose_name = _("bookmark")
        verbose_name_plural = _("bookmarks")
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="bookmark_user_post")]
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="bookmark_user_newest")]

    def __str__(self) -> str:
        return str(_("%(member)s keeps %(post)s")) % {"member": self.user.username, "post": self.post}


class Draft(models.Model):
    """What a member is writing and has not sent yet, kept as they type: a reply in a thread
    (``thread`` set, no title) or a new thread in a forum (``forum`` set). One per member and target."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    forum = models.ForeignKey(Forum, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    body = models.TextField(blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "thread"], condition=models.Q(thread__isnull=False), name="draft_user_thread"
            ),
            models.UniqueConstraint(
                fields=["user", "forum"], condition=models.Q(forum__isnull=False), name="draft_user_forum"
            ),
            models.CheckConstraint(
                condition=models.Q(thread__isnull=False, forum__isnull=True)
                | models.Q(thread__isnull=True, forum__isnull=False),
                name="draft_one_target",
            ),
        ]
        # The periodic cleanup finds the old ones by this.
        indexes = [models.Index(fields=["updated_at"], name="draft_updated")]

    def __str__(self) -> str:
        target = f"thread {self.thread_id}" if self.thread_id else f"forum {self.forum_id}"
        return f"draft of {self.user_id} in {target}"
