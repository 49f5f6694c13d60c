"""The Maildir collector and mailbox backend: the embedded default of `trawler run`.

Journal intake lives in maildir_journal.py, quarantine/restore in maildir_mailbox.py,
copy matching in maildir_match.py; this module is the one name config refers to.
"""

from service.collectors.maildir_fs import MaildirError
from service.collectors.maildir_journal import MaildirJournalCollector
from service.collectors.maildir_mailbox import MaildirMailboxBackend

__all__ = ["MaildirError", "MaildirJournalCollector", "MaildirMailboxBackend"]
