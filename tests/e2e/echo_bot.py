"""A minimal python-telegram-bot echo bot in webhook mode: the yardstick `faqbot bench` sets
beside `faqbot run` end to end (nothing of ours; updates processed concurrently, so it shows
what PTB and the emulator allow).

Usage: python echo_bot.py PORT WEBHOOK_URL, with TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL
and TELEGRAM_WEBHOOK_SECRET in the environment.
"""

from __future__ import annotations

import os
import sys

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the text back."""
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


def main() -> None:
    application = (Application.builder().token(os.environ["TELEGRAM_BOT_TOKEN"])
                   .base_url(os.environ["TELEGRAM_API_BASE_URL"]).concurrent_updates(True)
                   .build())
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.run_webhook(listen="127.0.0.1", port=int(sys.argv[1]), url_path="telegram",
                            webhook_url=sys.argv[2],
                            secret_token=os.environ["TELEGRAM_WEBHOOK_SECRET"])


if __name__ == "__main__":
    main()
