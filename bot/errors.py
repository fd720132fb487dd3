"""The one error root: every named core error is a FaqbotError.

The CLI catches FaqbotError once, prints ``format_message()`` on stderr and
exits with ``exit_code``; anything else is a bug, shown as one line too.
"""

from __future__ import annotations

EXIT_ERROR = 2  # bad input or settings (argparse uses 2 for usage errors too)


class FaqbotError(Exception):
    """An error the user can fix; its message is what they see."""

    exit_code = EXIT_ERROR

    def format_message(self) -> str:
        return str(self)
