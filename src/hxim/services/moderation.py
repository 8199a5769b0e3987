"""Text moderation: an app's keyword lists, applied to every message sent, and the text check.

Easemob's keyword_list_create, _modify, _query, _delete, keyword_add, _modify, _query, _delete,
_delete_batch and moderation_text_active pages. A list has a `name` (unique in the app, at most
`moderation_list_name_max_length`, 32, characters), a `scope` (`ALL`, `CHAT`, `GROUP`, `ROOM`:
the messages it screens; `TAG`, the messages of users, groups or rooms with a tag, screens none
here, as hxim has no tags), a `disposition` (`PASS`: nothing done, `REJECT`: the message is
refused, `EXCHANGE`: each matched word becomes `***`), `fullMatch` (the whole text must be one
of the words, rather than contain one) and its words (at most `moderation_word_max_length`,
128, characters each). Matching ignores case. An app holds at most
`moderation_lists_per_app_max` (100) lists, a list `moderation_words_per_list_max` (10,000)
words, an app `moderation_words_per_app_max` (1,000,000).

`screen` is asked by `MessageService.send` for every message, from REST or from any client,
before anything is stored: the text bodies (`txt`) are matched against the lists in force for
the message's chat type; a match in a `REJECT` list refuses the message (`moderated`), matches
in `EXCHANGE` lists are replaced. The lists in force are kept in memory per app, each compiled
into one regular expression (a trie of its words, so that matching costs about the same with
one word or ten thousand), rebuilt when the list or its words change: an app without lists
costs the send path one dict lookup. Like the global mutes, this lives in the process: several
nodes on one database must tell each other of a change.

Refusals of the calls are 400 `Bad Request` in the pages' words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hxim import errors
from hxim.config import Settings
from hxim.hub.router import nowhere
from hxim.model import App, IdGenerator, now_ms
from hxim.storage import Database
from hxim.storage.moderation import (
    APP_FULL,
    LIST_FULL,
    LISTS_FULL,
    NAME_TAKEN,
    NO_LIST,
    NO_WORD,
    WORD_TAKEN,
    KeywordList,
    Word,
    active_lists_txn,
    add_words_txn,
    create_list_txn,
    delete_list_txn,
    delete_words_txn,
    list_txn,
    list_words_txn,
    lists_page_txn,
    update_list_txn,
    update_word_txn,
    words_page_txn,
)

if TYPE_CHECKING:  # (services.messages imports this module)
    from hxim.services.messages import SendMessage

__all__ = [
    "DISPOSITIONS", "SCOPES", "Check", "KeywordList", "ListSettings", "ModerationService", "Word", "moderated",
    "trie_pattern",
]

SCOPES = ("ALL", "CHAT", "GROUP", "ROOM", "TAG")
DISPOSITIONS = ("PASS", "REJECT", "EXCHANGE")
_SCOPE_TYPES = {
    "ALL": frozenset({"chat", "groupchat", "chatroom"}),
    "CHAT": frozenset({"chat"}),
    "GROUP": frozenset({"groupchat"}),
    "ROOM": frozenset({"chatroom"}),
}
MASK = "***"


def moderated() -> errors.HximError:
    """A message a `REJECT` list refuses: 403 over REST, `<policy-violation/>` over XMPP (RFC
    6120 §8.3.3.12: "a message contains words that are prohibited by the service")."""
    return errors.HximError(
        403,
        "forbidden_op",
        "message is blocked by moderation",
        "org.apache.usergrid.services.exceptions.ForbiddenServiceOperationException",
        "policy-violation",
    )


def _bad(description: str) -> errors.HximError:
    return errors.bad_request(description)


def no_list() -> errors.HximError:
    return _bad("textList data is empty")


def trie_pattern(words: Iterable[str]) -> str:
    """One regular expression matching any of `words` (lowercase; compile it to ignore case),
    the longest where several start at one place: the words as a trie, so that each character
    of a text is tried against the next characters of the words that got that far, not against
    every word."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word.lower():
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        alternatives, singles = [], []
        for ch in sorted(k for k in node if k):
            rest = build(node[ch])
            if rest:
                alternatives.append(re.escape(ch) + rest)
            else:
                singles.append(re.escape(ch))
        if singles:
            alternatives.append(singles[0] if len(singles) == 1 else "[" + "".join(singles) + "]")
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        if "" in node:  # a word ends here: what follows is optional (greedy: the longest wins)
            return "(?:" + body + ")?"
        return body

    return build(trie)


class Screen:
    """A list in force, compiled: the chat types it screens, whether it refuses, its pattern.

    The pattern is matched against the text in lower case (much faster than Python's
    case-insensitive matching); a text whose lower case is not as long as itself (a few Unicode
    letters) is matched case-insensitively instead, by a pattern compiled when first needed."""

    __slots__ = ("_folded", "chat_types", "list_id", "pattern", "reject", "source")

    def __init__(self, list_id: str, chat_types: frozenset[str], reject: bool, source: str) -> None:
        self.list_id = list_id
        self.chat_types = chat_types
        self.reject = reject
        self.source = source
        self.pattern = re.compile(source)
        self._folded: re.Pattern[str] | None = None

    def folded(self) -> re.Pattern[str]:
        if self._folded is None:
            self._folded = re.compile(self.source, re.IGNORECASE)
        return self._folded

    def spans(self, text: str, low: str) -> list[tuple[int, int]]:
        """Where the list's words stand in `text` (`low`: `text.lower()`)."""
        found = self.pattern.finditer(low) if len(low) == len(text) else self.folded().finditer(text)
        return [m.span() for m in found]

    def search(self, text: str, low: str) -> bool:
        if len(low) == len(text):
            return self.pattern.search(low) is not None
        return self.folded().search(text) is not None

    def sub(self, text: str) -> str:
        """`text` with each word found replaced by `***`."""
        spans = self.spans(text, text.lower())
        if not spans:
            return text
        parts, at = [], 0
        for start, end in spans:
            parts.append(text[at:start])
            parts.append(MASK)
            at = end
        parts.append(text[at:])
        return "".join(parts)


def _compile(found: KeywordList, words: list[str]) -> Screen | None:
    """The screen of a list, or None when it does nothing (no words, `PASS`, closed, `TAG`)."""
    if not words or found.status != "ACTIVE" or found.disposition == "PASS" or found.scope not in _SCOPE_TYPES:
        return None
    body = trie_pattern(words)
    source = rf"\A(?:{body})\Z" if found.full_match else body
    return Screen(found.id, _SCOPE_TYPES[found.scope], found.disposition == "REJECT", source)


@dataclass(frozen=True, slots=True)
class ListSettings:
    """What a list is created or changed with (its words apart)."""

    name: str
    scope: str
    disposition: str
    tag_id: str | None = None
    full_match: bool = False
    creator: str | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """What the text check found: `PASS`, `REVIEWED` (only words to replace) or `REJECT`; the
    text with the words replaced; the words found."""

    type: str
    exchanged: str
    found: list[str]


class ModerationService:
    def __init__(self, db: Database, settings: Settings, ids: IdGenerator) -> None:
        self.db = db
        self.settings = settings
        self.ids = ids
        # app id -> list id -> screen: the lists in force that do something
        self.screens: dict[str, dict[str, Screen]] = {}
        self.tell_nodes: Callable[..., None] = nowhere  # (`Router.tell_nodes`, set by the node)

    def load_sync(self) -> None:
        """Compile the lists in force (at start, before any message is sent)."""
        self.screens.clear()
        for app_id, found, words in self.db.run_sync(active_lists_txn, write=False):
            self._keep(app_id, found.id, _compile(found, words))

    def _keep(self, app_id: str, list_id: str, screen: Screen | None) -> None:
        in_app = self.screens.get(app_id)
        if screen is not None:
            self.screens.setdefault(app_id, {})[list_id] = screen
        elif in_app is not None:
            in_app.pop(list_id, None)
            if not in_app:
                del self.screens[app_id]

    async def _refresh(self, app: App, list_id: str) -> None:
        """Recompile one list after a change (or forget it, gone); the other nodes of a cluster too."""
        await self.refresh(app.id, list_id)
        self.tell_nodes("keywords", app.id, list_id)

    async def refresh(self, app_id: str, list_id: str) -> None:
        found = await self.db.read(list_txn, app_id, list_id)
        words = await self.db.read(list_words_txn, list_id) if found is not None else []
        self._keep(app_id, list_id, _compile(found, words) if found is not None else None)

    async def reload(self) -> None:
        """Compile the lists in force again (changes on other nodes may have been missed)."""
        fresh: dict[str, dict[str, Screen]] = {}
        for app_id, found, words in await self.db.read(active_lists_txn):
            screen = _compile(found, words)
            if screen is not None:
                fresh.setdefault(app_id, {})[found.id] = screen
        self.screens = fresh

    # --- the send path --------------------------------------------------------------------------------
    def screen(self, app: App, cmd: SendMessage) -> SendMessage:
        """`cmd` as the app's lists let it through: unchanged, with words replaced, or refused
        (`moderated`). One dict lookup for an app without lists."""
        in_app = self.screens.get(app.id)
        if in_app is None:
            return cmd
        screens = [s for s in in_app.values() if cmd.chat_type in s.chat_types]
        if not screens:
            return cmd
        bodies = list(cmd.bodies)
        changed = False
        for i, body in enumerate(bodies):
            text = body.get("msg") if body.get("type") == "txt" else None
            if not isinstance(text, str) or not text:
                continue
            low = text.lower()
            new = text
            for s in screens:
                if s.reject and s.search(text, low):
                    raise moderated()
            for s in screens:
                if not s.reject:
                    new = s.sub(new)
            if new != text:
                bodies[i] = {**body, "msg": new}
                changed = True
        return cmd._replace(bodies=tuple(bodies)) if changed else cmd

    def check(self, app: App, content: str) -> Check:
        """The text check (`POST /moderation/txt/check`): `content` against every list of the app
        that screens messages, whatever their chat type."""
        if not content:
            raise _bad("message content is empty or null")
        if len(content) > self.settings.moderation_check_max_length:
            raise _bad(f"message content is longer than {self.settings.moderation_check_max_length} characters")
        kind, text = "PASS", content
        found: list[str] = []
        low = content.lower()
        for s in self.screens.get(app.id, {}).values():
            hits = [content[start:end] for start, end in s.spans(content, low)]
            if not hits:
                continue
            found.extend(h for h in hits if h not in found)
            if s.reject:
                kind = "REJECT"
            elif kind == "PASS":
                kind = "REVIEWED"
            text = s.sub(text)
        return Check(kind, text, found)

    # --- lists ----------------------------------------------------------------------------------------
    def _checked(self, new: ListSettings) -> ListSettings:
        if not new.name or not new.scope or not new.disposition:
            raise _bad("request param is empty")
        most = self.settings.moderation_list_name_max_length
        if len(new.name) > most:
            raise _bad(f"name can not be longer than {most} characters")
        if new.scope not in SCOPES:
            raise _bad(f"scope must be one of {', '.join(SCOPES)}")
        if new.disposition not in DISPOSITIONS:
            raise _bad(f"disposition must be one of {', '.join(DISPOSITIONS)}")
        if new.scope == "TAG" and not new.tag_id:
            raise _bad("tagId can not be empty when scope is TAG")
        return new

    def _words(self, list_id: str, words: list[Any], creator: str | None, now: int) -> list[Word]:
        most = self.settings.moderation_word_max_length
        out: list[Word] = []
        seen: set[str] = set()
        for word in words:
            if not isinstance(word, str) or not word.strip():
                raise _bad("request data is empty")
            if len(word) > most:
                raise _bad(f"a keyword can not be longer than {most} characters")
            if word in seen:
                raise _bad("The textList already contains the text")
            seen.add(word)
            out.append(Word(str(self.ids.next()), list_id, word, creator, now, now))
        return out

    async def create(self, app: App, new: ListSettings, words: list[Any]) -> tuple[KeywordList, list[Word]]:
        """A new list with its first words (at most `moderation_list_create_words_max`)."""
        new = self._checked(new)
        if len(words) > self.settings.moderation_list_create_words_max:
            raise _bad("The text count exceeds the maximum number")
        now = now_ms()
        list_id = str(self.ids.next())
        made = self._words(list_id, words, new.creator, now)
        created = KeywordList(list_id, new.name, new.scope, new.tag_id,
                              new.disposition, new.full_match, "ACTIVE", new.creator, now, now, len(made))
        settings = self.settings
        why = await self.db.write(create_list_txn, app.id, created, made, settings.moderation_lists_per_app_max,
                                  settings.moderation_words_per_app_max)
        if why == NAME_TAKEN:
            raise _bad("The textList already exists")
        if why == LISTS_FULL:
            raise _bad("The textList count exceeds the maximum number")
        if why == APP_FULL:
            raise _bad("the number of words exceeds the limit")
        self._keep(app.id, list_id, _compile(created, [w.word for w in made]))
        self.tell_nodes("keywords", app.id, list_id)
        return created, made

    async def update(self, app: App, list_id: str, new: ListSettings) -> KeywordList:
        """Change a list's settings."""
        if not list_id:
            raise _bad("textList id is empty")
        new = self._checked(new)
        old = await self.db.read(list_txn, app.id, list_id)
        if old is None:
            raise no_list()
        changed = replace(old, name=new.name, scope=new.scope, tag_id=new.tag_id, disposition=new.disposition,
                          full_match=new.full_match, creator=new.creator, updated=now_ms())
        done = await self.db.write(update_list_txn, app.id, changed)
        if done == NO_LIST:
            raise no_list()
        if done == NAME_TAKEN:
            raise _bad("The textList already exists")
        assert isinstance(done, KeywordList)
        await self._refresh(app, list_id)
        return done

    async def delete(self, app: App, list_id: str) -> None:
        if not await self.db.write(delete_list_txn, app.id, list_id):
            raise no_list()
        self._keep(app.id, list_id, None)
        self.tell_nodes("keywords", app.id, list_id)

    def _page(self, page: int | None, size: int | None) -> tuple[int, int]:
        most = self.settings.moderation_page_max
        size = self.settings.moderation_page_default if size is None else size
        page = 0 if page is None else page
        if not 1 <= size <= most:
            raise _bad(f"size must be a number from 1 to {most}")
        if not 0 <= page <= 1_000_000_000:
            raise _bad("page must be a number from 0")
        return page, size

    async def search(
        self, app: App, name: str | None, tag_id: str | None, page: int | None, size: int | None
    ) -> tuple[list[KeywordList], int, int, int]:
        """A page of the app's lists (only the one named `name`, or those of tag `tag_id`, when
        given): (lists, total, page, size)."""
        page, size = self._page(page, size)
        found, total = await self.db.read(lists_page_txn, app.id, name, tag_id, page * size, size)
        return found, total, page, size

    # --- words ----------------------------------------------------------------------------------------
    async def add_words(self, app: App, list_id: str, words: list[Any], creator: str | None) -> tuple[
        KeywordList, list[Word]
    ]:
        """Add words to a list (at most `moderation_word_batch_max` at once), all or none."""
        if not words:
            raise _bad("request data is empty")
        if len(words) > self.settings.moderation_word_batch_max:
            raise _bad("The text count exceeds the maximum number")
        made = self._words(list_id, words, creator, now_ms())
        settings = self.settings
        done = await self.db.write(add_words_txn, app.id, list_id, made, settings.moderation_words_per_list_max,
                                   settings.moderation_words_per_app_max)
        if done == NO_LIST:
            raise no_list()
        if done == WORD_TAKEN:
            raise _bad("The textList already contains the text")
        if done in (LIST_FULL, APP_FULL):
            raise _bad("The text count exceeds the maximum number")
        assert isinstance(done, KeywordList)
        await self._refresh(app, list_id)
        return done, made

    async def update_word(self, app: App, list_id: str, word_id: str, word: str, creator: str | None) -> Word:
        if not list_id:
            raise _bad("textList id is empty")
        if not word_id or not word:
            raise _bad("the param can not be empty")
        if len(word) > self.settings.moderation_word_max_length:
            raise _bad(f"a keyword can not be longer than {self.settings.moderation_word_max_length} characters")
        done = await self.db.write(update_word_txn, app.id, list_id, word_id, word, creator, now_ms())
        if done == NO_LIST:
            raise _bad("textList id is empty")
        if done == NO_WORD:
            raise _bad("the param can not be empty")
        if done == WORD_TAKEN:
            raise _bad("The textList already contains the text")
        assert isinstance(done, Word)
        await self._refresh(app, list_id)
        return done

    async def words(
        self, app: App, list_id: str, containing: str, page: int | None, size: int | None
    ) -> tuple[list[Word], int, int, int]:
        """A page of a list's words that contain `containing`: (words, total, page, size)."""
        page, size = self._page(page, size)
        found = await self.db.read(words_page_txn, app.id, list_id, containing, page * size, size)
        if found is None:
            raise no_list()
        return found[0], found[1], page, size

    async def delete_words(self, app: App, list_id: str, word_ids: list[str]) -> int:
        """Delete words of a list (at most `moderation_word_batch_max` at once); how many went."""
        if not word_ids:
            raise _bad("request data is empty")
        if len(word_ids) > self.settings.moderation_word_batch_max:
            raise _bad("The text count exceeds the maximum number")
        gone = await self.db.write(delete_words_txn, app.id, list_id, word_ids)
        if gone is None:
            raise no_list()
        await self._refresh(app, list_id)
        return gone
