"""``tandem interactive``: learn a story by correcting the bot in the terminal.

The model is trained first if the project changed (or none exists). Then, turn by turn, the
user's message is parsed and its intent and entities are confirmed or corrected; the message
is logged with the confirmed parse data, and each next action the policies predict is
confirmed or replaced before it runs, until the bot listens. Messages that CALM handles (a
flow, or a router sending them there) run as a whole turn and are shown, not corrected.

At the end what was learned is exported: the conversations as stories and the user messages
as NLU examples into one data file (``data/interactive.yml``, merged with what it holds), and
the intents, entities and actions that did not exist into the domain (``interactive.yml`` in
a domain folder, or the domain file itself).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tandem.cli.project_args import add_project_arguments, load_project_or_report

if TYPE_CHECKING:
    from tandem.conversation import events as ev
    from tandem.conversation.parse_data import EntityPrediction, IntentPrediction, ParseData
    from tandem.policies.base import Prediction
    from tandem.project.loader import Project
    from tandem.project.training_data import NluExample
    from tandem.runtime.message import UserMessage
    from tandem.runtime.processor import MessageProcessor, TurnResult

PROMPT = "Your input -> "
DEFAULT_EXPORT = "data/interactive.yml"
STORY_PREFIX = "interactive_story_"
# Default actions worth offering when the user picks the next action (any name may be typed).
_OFFERED_DEFAULTS = (
    "action_listen",
    "action_restart",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_two_stage_fallback",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_back",
)
# Extractors of pretrained entities: their entities are not annotations to learn from.
_PRETRAINED_EXTRACTORS = frozenset({"DucklingEntityExtractor", "SpacyEntityExtractor"})
_NAME = re.compile(r"^[A-Za-z0-9_][\w\-/]*$")


def add_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    add_project_arguments(parser)
    parser.add_argument(
        "-m",
        "--model",
        default=None,
        help="model archive or folder to use as is (default: train the project into --out "
        "if it changed, then use the newest model there)",
    )
    parser.add_argument(
        "--out", default="models", help="folder for the model archive (default: models)"
    )
    parser.add_argument(
        "--export",
        default=DEFAULT_EXPORT,
        help=f"data file the stories and NLU examples go to, merged with it if it exists "
        f"(default: {DEFAULT_EXPORT})",
    )
    parser.add_argument("--conversation-id", default=None, help="conversation id (default: random)")


class _EndOfInput(Exception):
    """Ctrl-D (or the end of piped input): export what was learned and leave."""


@dataclass
class Learned:
    """What a session taught: its conversations (sender ids), which user messages CALM
    handled (left out of the export), and the actions named that did not exist."""

    conversations: list[str] = field(default_factory=list)
    calm_messages: set[str] = field(default_factory=set)
    # New action -> the text its response says (None: no response, e.g. a custom action).
    new_actions: dict[str, str | None] = field(default_factory=dict)


def run(args: argparse.Namespace) -> int:
    from tandem.cli.shell import _line_editing, _open, close_processor

    project = load_project_or_report(args)
    if project is None:
        return 1
    model = args.model
    if model is None:
        if _train(args) != 0:
            return 1
        model = args.out
    if not sys.stdin.isatty():
        print("(input is not a terminal: reading answers line by line, without line editing)")
    save_history = _line_editing()
    prompter = Prompter(readline_active=save_history is not None)
    with asyncio.Runner() as runner:
        opened = argparse.Namespace(model=model, endpoints=args.endpoints)
        processor = runner.run(_open(opened))
        if processor is None:
            return 1
        session = Session(runner, processor, project, prompter, args.conversation_id)
        try:
            if not session.run():
                print("Nothing was exported.")
                return 0
            events = [
                runner.run(processor.fetch_full_tracker(sender)).events
                for sender in session.learned.conversations
            ]
        except KeyboardInterrupt:  # Ctrl-C: leave at once, as ``tandem shell`` does
            print("\nInterrupted: nothing was exported.")
            return 130
        finally:
            if save_history is not None:
                save_history()
            runner.run(close_processor(processor))
    exporter = Exporter(project, Path(args.export))
    print(exporter.export(events, session.learned))
    return 0


def _train(args: argparse.Namespace) -> int:
    """``tandem train`` as it is (it skips training when nothing changed)."""
    from tandem.cli import train

    options = dict(vars(args))
    options.update(fixed_model_name=None, force=False, skip_validation=False, nlu_only=False)
    return train.run(argparse.Namespace(**options))


# -- asking ------------------------------------------------------------------------------------


class Prompter:
    """Questions in the terminal. Answers other than messages stay out of the history, so
    that Up recalls messages only (the history is the one ``tandem shell`` keeps)."""

    def __init__(self, *, readline_active: bool) -> None:
        self.readline: Any = None
        if readline_active:
            import readline

            self.readline = readline

    def ask(self, prompt: str, *, prefill: str = "", remember: bool = False) -> str:
        """One line; ``prefill`` is put on the line to edit (on a terminal)."""
        rl = self.readline
        if rl is not None and prefill:
            rl.set_startup_hook(lambda: rl.insert_text(prefill))
        try:
            answer = input(prompt)
        except EOFError:
            print()
            raise _EndOfInput from None
        finally:
            if rl is not None and prefill:
                rl.set_startup_hook()
        if rl is not None and not remember and answer and rl.get_current_history_length():
            rl.remove_history_item(rl.get_current_history_length() - 1)
        return answer.strip()

    def yes(self, question: str) -> bool:
        while True:
            answer = self.ask(f"{question} [Y/n] -> ").lower()
            if answer in ("", "y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            print("Please answer y or n.")

    def choose(self, title: str, options: Sequence[tuple[str, str]], what: str) -> str:
        """A name from the numbered ``options`` ((name, note) pairs), or one typed; 0 asks
        for a new name."""
        print(title)
        for number, (name, note) in enumerate(options, start=1):
            print(f"  {number}. {name}{f' ({note})' if note else ''}")
        print(f"  0. a new {what}")
        while True:
            answer = self.ask(f"{what.capitalize()} number or name -> ")
            if answer.isdigit() and int(answer) == 0:
                answer = self.ask(f"Name of the new {what} -> ")
            elif answer.isdigit():
                if int(answer) <= len(options):
                    return options[int(answer) - 1][0]
                print(f"There is no {what} {answer}.")
                continue
            if _NAME.match(answer):
                return answer
            print(f"Type a number from the list or a {what} name (letters, digits, _).")

    def menu(self, title: str, choices: Sequence[str]) -> int:
        """The index of the choice picked by its number."""
        print(title)
        for number, choice in enumerate(choices, start=1):
            print(f"  {number}. {choice}")
        while True:
            answer = self.ask("Choice number -> ")
            if answer.isdigit() and 1 <= int(answer) <= len(choices):
                return int(answer) - 1
            print(f"Type a number from 1 to {len(choices)}.")


# -- the conversation --------------------------------------------------------------------------


class Session:
    def __init__(
        self,
        runner: asyncio.Runner,
        processor: MessageProcessor,
        project: Project,
        prompter: Prompter,
        conversation_id: str | None,
    ) -> None:
        self.runner = runner
        self.processor = processor
        self.assistant = processor.assistant
        self.domain = processor.assistant.domain
        self.project = project
        self.prompter = prompter
        self.learned = Learned()
        self.sender = conversation_id or uuid.uuid4().hex
        self.learned.conversations.append(self.sender)

    def run(self) -> bool:
        """The conversation until the user ends it; whether to export."""
        print(
            "Interactive learning: type a message, then confirm or correct what the bot "
            "understood and does. '/stop' opens the menu (export, continue, new story, quit); "
            "Ctrl-D exports and quits; Ctrl-C quits without exporting."
        )
        try:
            while True:
                text = self.prompter.ask(PROMPT, remember=True)
                if text == "/stop":
                    choice = self._menu()
                    if choice is not None:
                        return choice
                elif text and self.turn(text):
                    self.show_story()
        except _EndOfInput:
            return True

    def _menu(self) -> bool | None:
        """True: export and quit; False: quit; None: go on (this story or a new one)."""
        picked = self.prompter.menu(
            "What next?",
            [
                "export what was learned and quit",
                "continue this conversation",
                "keep this story and start a new conversation",
                "quit without exporting",
            ],
        )
        if picked == 2:
            self.sender = uuid.uuid4().hex
            self.learned.conversations.append(self.sender)
            print("A new conversation: the bot has forgotten the last one.")
        return {0: True, 3: False}.get(picked)

    def _do(self, coroutine: Any) -> Any:
        from tandem.cli.shell import unreachable_store
        from tandem.stores.errors import StoreUnavailable

        try:
            return self.runner.run(coroutine)
        except StoreUnavailable as error:
            print(unreachable_store(error, self.project.paths.endpoints), file=sys.stderr)
            raise _EndOfInput from None

    # -- one turn ----------------------------------------------------------------------------

    def turn(self, text: str) -> bool:
        """One user turn; whether it belongs to the story (CALM's turns do not)."""
        from tandem.runtime.message import UserMessage

        message = UserMessage(text, sender_id=self.sender, input_channel="cmdline")
        tracker = self._do(self.processor.fetch_tracker(self.sender))
        parse = self._do(self.assistant.parse(message, tracker)).copy()
        if self._goes_to_calm(tracker, parse):
            self._calm_turn(replace(message, parse_data=parse))
            return False
        parse = self.confirm_parse(text, parse)
        self._do(self.processor.log_message(replace(message, parse_data=parse)))
        if self.assistant.turn_stages:
            self._do(self._run_turn_stages())
        if not self.assistant.policies:
            print("(an NLU-only model: no actions to predict)")
        else:
            self.next_actions()
        return True

    def _goes_to_calm(self, tracker: Any, parse: ParseData) -> bool:
        if not self.assistant.turn_stages:
            return False
        from tandem.conversation.commands import commands_from_dicts
        from tandem.conversation.routing import handled_by_nlu

        return not handled_by_nlu(tracker, commands_from_dicts(parse.get("commands") or []))

    async def _run_turn_stages(self) -> None:
        """The stages a turn runs before its first prediction (CALM's command processor:
        on a message for the NLU system it records the routing)."""
        from tandem.runtime.assistant import TurnNotes

        for stage in self.assistant.turn_stages:
            tracker = await self.processor.fetch_tracker(self.sender)
            events = await stage.run(tracker, TurnNotes())
            if events:
                await self.processor.append_events(self.sender, events)

    def _calm_turn(self, message: UserMessage) -> None:
        from tandem.conversation import events as ev
        from tandem.runtime.turn_report import _action, _command

        print(
            "This message goes to CALM (flows): it runs as it is, its commands are not "
            "corrected here and the turn is left out of the story."
        )
        commands = (message.parse_data or {}).get("commands") or []
        if commands:
            print("commands: " + "; ".join(map(_command, commands)))
        result: TurnResult = self._do(self.processor.handle_message(message))
        self.learned.calm_messages.add(message.message_id)
        for event in result.new_events:
            if not isinstance(event, ev.ActionExecuted | ev.ActionExecutionRejected):
                continue
            if event.name != "action_listen":
                print("action:" + _action(event))
        self._print_bot(result.messages)

    # -- the user message --------------------------------------------------------------------

    def confirm_parse(self, text: str, parse: ParseData) -> ParseData:
        """The parse data as the user confirms or corrects it."""
        from tandem.project.yaml_writer import annotated

        intent = parse.get("intent") or {}
        entities = list(parse.get("entities") or [])
        shown = annotated(text, entities)
        found = ", ".join(f"{e.get('entity')}={e.get('value')!r}" for e in entities) or "none"
        print(
            f"Intent: {intent.get('name')} ({float(intent.get('confidence') or 0):.2f}); "
            f"entities: {found}"
        )
        if self.prompter.yes(
            f"Is the intent '{intent.get('name')}' right for \"{shown}\", with every entity marked?"
        ):
            return parse
        name = self.pick_intent(parse)
        entities = self.mark_entities(text, shown, entities)
        corrected: IntentPrediction = {"name": name, "confidence": 1.0}
        return {**parse, "intent": corrected, "intent_ranking": [corrected], "entities": entities}

    def pick_intent(self, parse: ParseData) -> str:
        from tandem import names

        ranking = [
            (str(item["name"]), float(item.get("confidence") or 0))
            for item in parse.get("intent_ranking") or []
            if item.get("name")
        ]
        ranked = {name for name, _ in ranking}
        options = [(name, f"{confidence:.2f}") for name, confidence in ranking]
        options += [
            (name, "")
            for name in self.domain.intents
            if name not in ranked and name not in names.DEFAULT_INTENTS
        ]
        name = self.prompter.choose("Which intent is it?", options, "intent")
        if name not in self.domain.intents:
            print(f"'{name}' is a new intent: it goes into the domain on export.")
        return name

    def mark_entities(
        self, text: str, shown: str, entities: list[EntityPrediction]
    ) -> list[EntityPrediction]:
        """The message's entities as the user marks them, ``[text](entity)``."""
        from tandem.project.data_files import parse_annotated
        from tandem.project.errors import ProjectError, Source

        while True:
            answer = self.prompter.ask(
                f"Mark the entities as [text](entity) (Enter keeps: {shown}) -> ", prefill=shown
            )
            if not answer or answer == shown:
                return entities
            try:
                plain, annotations = parse_annotated(answer, Source("your annotation"))
            except ProjectError as error:
                print(error)
                continue
            if plain != text:
                print(f'The text must stay the message\'s: "{text}" (you wrote "{plain}").')
                continue
            return [a.as_dict() for a in annotations]

    # -- the actions -------------------------------------------------------------------------

    def next_actions(self) -> None:
        """Predict, confirm or correct, run: until the bot listens."""
        from tandem import names

        while True:
            _, name, prediction = self._do(self.processor.predict_next_action(self.sender))
            print(
                f"Next action: {name}  ({prediction.policy_name}, {prediction.max_confidence:.2f})"
            )
            if self.prompter.yes(f"Is '{name}' the right next action?"):
                self._run_action(name, prediction)
            else:
                name = self.pick_action(prediction)
                self._run_action(name, None)
            if name in (names.ACTION_LISTEN, names.ACTION_RESTART):
                return

    def pick_action(self, prediction: Prediction) -> str:
        domain = self.domain
        scores = dict(zip(domain.action_names, prediction.probabilities, strict=False))
        project = [a for a in domain.action_names if a not in _hidden_defaults()]
        listed = sorted(project, key=lambda a: -scores.get(a, 0.0))  # stable: domain order
        options = [(a, f"{scores.get(a, 0.0):.2f}") for a in listed]
        name = self.prompter.choose("Which action should the bot take next?", options, "action")
        if name not in self.assistant.actions and name not in self.learned.new_actions:
            self.learned.new_actions[name] = self._new_action(name)
        return name

    def _new_action(self, name: str) -> str | None:
        from tandem import names

        print(f"'{name}' is a new action: it goes into the domain on export.")
        if not name.startswith(names.RESPONSE_PREFIX):
            return None
        said = self.prompter.ask(f"What does the bot say for {name}? (Enter: nothing yet) -> ")
        return said or None

    def _run_action(self, name: str, prediction: Prediction | None) -> None:
        from tandem.conversation import events as ev

        if name in self.learned.new_actions and name not in self.assistant.actions:
            # Not in the model: its step is recorded, and what it says shown.
            said = self.learned.new_actions[name]
            added: list[ev.Event] = [ev.ActionExecuted(name=name, confidence=1.0)]
            if said:
                added.append(ev.BotUttered(text=said, metadata={"utter_action": name}))
            self._do(self.processor.append_events(self.sender, added))
            if said:
                print(f"Bot: {said}")
            return
        if prediction is not None and prediction.events:
            self._do(self.processor.append_events(self.sender, list(prediction.events)))
        result = self._do(
            self.processor.execute_action(
                self.sender,
                name,
                policy=prediction.policy_name if prediction else None,
                confidence=prediction.max_confidence if prediction else 1.0,
            )
        )
        self._print_bot(result.messages)

    def _print_bot(self, messages: Iterable[ev.BotUttered]) -> None:
        from tandem.cli.shell import _render

        for bot in messages:
            print("Bot: " + _render(bot.message()))

    # -- the story so far --------------------------------------------------------------------

    def show_story(self) -> None:
        from tandem.project.yaml_writer import step_lines

        tracker = self._do(self.processor.fetch_full_tracker(self.sender))
        steps = story_steps(tracker.events, self.learned.calm_messages, self.domain.slots)
        print("Story so far:")
        for step in steps:
            print("\n".join("  " + line for line in step_lines(step)))


def _hidden_defaults() -> frozenset[str]:
    from tandem import names

    return frozenset(names.DEFAULT_ACTIONS) - frozenset(_OFFERED_DEFAULTS)


# -- from the conversation to training data ----------------------------------------------------

# Slots the runtime keeps for itself: never story steps.
_INTERNAL_SLOTS = frozenset(
    {
        "requested_slot",
        "session_started_metadata",
        "flow_hashes",
        "mocked_datetime",
        "route_session_to_calm",
        "dialogue_stack",
    }
)


def story_steps(
    events: Sequence[ev.Event], calm_messages: set[str], slots: Iterable[str]
) -> list[ev.Event]:
    """The conversation as story steps: user turns (intent and entities), the actions, the
    slots set and the loops; turns CALM handled are left out."""
    from tandem import names
    from tandem.conversation import events as ev
    from tandem.conversation.tracker import applied_events

    known = set(slots) - _INTERNAL_SLOTS
    steps: list[ev.Event] = []
    skipping = True  # nothing before the first user message (the session start)
    for event in applied_events(events):
        if isinstance(event, ev.UserUttered):
            skipping = event.message_id in calm_messages
            if not skipping:
                steps.append(_story_user(event))
        elif skipping:
            continue
        elif isinstance(event, ev.ActionExecuted) and event.name not in (
            names.ACTION_LISTEN,
            names.ACTION_SESSION_START,
            None,
        ):
            steps.append(ev.ActionExecuted(name=event.name))
        elif isinstance(event, ev.SlotSet) and event.name in known:
            steps.append(ev.SlotSet(name=event.name, value=event.value))
        elif isinstance(event, ev.ActiveLoop):
            steps.append(ev.ActiveLoop(name=event.name))
    return steps


def _story_user(event: ev.UserUttered) -> ev.UserUttered:
    """A user step as stories write it: the intent and the entities (as ``entities:``
    items, without the text)."""
    from tandem.conversation import events as ev
    from tandem.conversation.parse_data import as_entities

    entities = [
        {k: e[k] for k in ("entity", "value", "role", "group") if e.get(k) is not None}
        for e in _learnable(event.entities)
    ]
    return ev.UserUttered.create(None, {"name": event.intent_name}, as_entities(entities))


def _learnable(entities: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entities if e.get("extractor") not in _PRETRAINED_EXTRACTORS]


def nlu_examples(events: Sequence[ev.Event], calm_messages: set[str]) -> list[NluExample]:
    """The confirmed user messages as NLU examples (intent messages like ``/greet`` are
    not examples)."""
    from tandem.conversation import events as ev
    from tandem.conversation.tracker import applied_events
    from tandem.project.training_data import EntityAnnotation, NluExample

    examples = []
    for event in applied_events(events):
        if not isinstance(event, ev.UserUttered) or event.message_id in calm_messages:
            continue
        if not event.text or event.text.startswith("/") or not event.intent_name:
            continue
        annotations = tuple(
            EntityAnnotation(
                entity=str(e["entity"]),
                value=e.get("value"),
                start=int(e["start"]),
                end=int(e["end"]),
                role=e.get("role"),
                group=e.get("group"),
            )
            for e in _learnable(event.entities)
            if isinstance(e.get("start"), int) and isinstance(e.get("end"), int)
        )
        examples.append(NluExample(event.text, event.intent_name, annotations))
    return examples


# -- writing the files -------------------------------------------------------------------------


class Exporter:
    def __init__(self, project: Project, data_file: Path) -> None:
        self.project = project
        self.data_file = data_file

    def export(self, conversations: Sequence[Sequence[ev.Event]], learned: Learned) -> str:
        """Write the stories, examples and domain additions; returns what went where."""
        domain = self.project.domain
        stories = [
            steps
            for events in conversations
            if (steps := story_steps(events, learned.calm_messages, domain.slots))
        ]
        examples = [
            e for events in conversations for e in nlu_examples(events, learned.calm_messages)
        ]
        if not stories and not examples:
            return "Nothing was learned: no file was written."
        data_file, written = self._write_data(stories, examples)
        report = [
            f"Exported to {data_file}: {len(stories)} {_plural(len(stories), 'story', 'stories')}"
            f", {written} new NLU {_plural(written, 'example', 'examples')}."
        ]
        additions = self._domain_additions(stories, examples, learned)
        if any(additions.values()):
            target = write_domain_additions(self.project.paths.domain, additions)
            what = "; ".join(
                f"{key} {', '.join(sorted(value))}" for key, value in additions.items() if value
            )
            report.append(f"Added to the domain in {target}: {what}.")
        data_paths = [path.resolve() for path in self.project.paths.data]
        target = data_file.resolve()
        if not any(target == path or path in target.parents for path in data_paths):
            report.append(f"Note: {data_file} is not in the training data paths (--data).")
        report.append("Train on it with: tandem train")
        return "\n".join(report)

    def _write_data(
        self, stories: list[list[ev.Event]], examples: list[NluExample]
    ) -> tuple[Path, int]:
        from tandem.project.data_files import load_training_data
        from tandem.project.training_data import NluData, StoryBlock
        from tandem.project.yaml_writer import nlu_yaml, stories_yaml

        target = self._mergeable_target()
        old_stories: list[StoryBlock] = []
        old_nlu = NluData()
        if target.exists():
            data, _ = load_training_data([target], self.project.domain.slots)
            old_stories, old_nlu = list(data.stories), data.nlu
        known = {(e.text, e.intent) for e in (*self.project.data.nlu.examples, *old_nlu.examples)}
        new_examples = []
        for example in examples:
            if (example.text, example.intent) not in known:
                known.add((example.text, example.intent))
                new_examples.append(example)
        taken = {s.name for s in old_stories}
        numbers = (n for n in range(1, 10**6) if f"{STORY_PREFIX}{n}" not in taken)
        blocks = [
            *old_stories,
            *(StoryBlock(f"{STORY_PREFIX}{next(numbers)}", "story", tuple(s)) for s in stories),
        ]
        nlu = replace(old_nlu, examples=(*old_nlu.examples, *new_examples))
        text = nlu_yaml(nlu) + stories_yaml(blocks).split("\n", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target, len(new_examples)

    def _mergeable_target(self) -> Path:
        """The data file, or the next free ``<name>_<n>.yml`` if it holds what this command
        does not write (rules, flows, responses)."""
        candidate, number = self.data_file, 1
        while candidate.exists() and not _only_stories_and_nlu(candidate):
            number += 1
            candidate = self.data_file.with_name(
                f"{self.data_file.stem}_{number}{self.data_file.suffix}"
            )
        return candidate

    def _domain_additions(
        self, stories: list[list[ev.Event]], examples: list[NluExample], learned: Learned
    ) -> dict[str, dict[str, str | None]]:
        from tandem.conversation import events as ev

        domain = self.project.domain
        intents: dict[str, str | None] = {}
        entities: dict[str, str | None] = {}
        for example in examples:
            if example.intent and example.intent not in domain.intents:
                intents[example.intent] = None
            for annotation in example.entities:
                if annotation.entity not in domain.entities:
                    entities[annotation.entity] = None
        for steps in stories:
            for step in steps:
                if isinstance(step, ev.UserUttered):
                    if step.intent_name and step.intent_name not in domain.intents:
                        intents[step.intent_name] = None
                    for entity in step.entities:
                        if entity["entity"] not in domain.entities:
                            entities[entity["entity"]] = None
        used = {s.name for steps in stories for s in steps if isinstance(s, ev.ActionExecuted)}
        actions = {
            name: said
            for name, said in learned.new_actions.items()
            if name in used and name not in domain.action_names
        }
        return {"intents": intents, "entities": entities, "actions": actions}


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _only_stories_and_nlu(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(data, dict) or not set(data) <= {"version", "nlu", "stories"}:
        return False
    nlu = data.get("nlu") or []
    return all(isinstance(item, dict) and "intent" in item for item in nlu)


def write_domain_additions(domain_path: Path, additions: dict[str, dict[str, str | None]]) -> Path:
    """Add new intents, entities and actions (with their response texts) to the domain:
    ``interactive.yml`` in a domain folder (merged with it), else into the domain file."""
    intents = list(additions.get("intents") or {})
    entities = list(additions.get("entities") or {})
    actions = additions.get("actions") or {}
    responses = {name: said for name, said in actions.items() if said}
    listed = [name for name, said in actions.items() if not said]
    if domain_path.is_dir():
        target = domain_path / "interactive.yml"
        data: dict[str, Any] = {}
        if target.exists():
            data = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
        data.setdefault("version", "3.1")
        for key, names in (("intents", intents), ("entities", entities), ("actions", listed)):
            if names:
                data[key] = list(dict.fromkeys([*(data.get(key) or []), *names]))
        if responses:
            data.setdefault("responses", {}).update(
                {name: [{"text": said}] for name, said in responses.items()}
            )
        target.write_text(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        return target
    lines = domain_path.read_text(encoding="utf-8").split("\n")
    for key, names in (("intents", intents), ("entities", entities), ("actions", listed)):
        if names:
            lines = _add_list_items(lines, key, names)
    if responses:
        lines = _add_responses(lines, responses)
    domain_path.write_text("\n".join(lines), encoding="utf-8")
    return domain_path


def _key_block(lines: list[str], key: str) -> tuple[int, int] | None:
    """The line of the top-level ``key:`` and the end of its block (exclusive)."""
    start = next((i for i, line in enumerate(lines) if re.match(rf"{key}\s*:", line)), None)
    if start is None:
        return None
    end = start + 1
    last = start + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.startswith((" ", "\t", "-", "#")):
            break
        if line.strip() and not line.lstrip().startswith("#"):
            last = end + 1
        end += 1
    return start, last


def _add_list_items(lines: list[str], key: str, names: list[str]) -> list[str]:
    from tandem.project.yaml_writer import scalar

    block = _key_block(lines, key)
    if block is None:
        return _append(lines, [f"{key}:", *(f"- {scalar(name)}" for name in names)])
    start, end = block
    inline = lines[start].split(":", 1)[1].split("#", 1)[0].strip()
    if inline:  # a flow list on the key's line: ``intents: [greet, goodbye]``
        existing = yaml.safe_load(inline) or []
        merged = [*existing, *(n for n in names if n not in existing)]
        return [*lines[:start], f"{key}: [{', '.join(map(scalar, merged))}]", *lines[start + 1 :]]
    items = [line for line in lines[start + 1 : end] if line.lstrip().startswith("-")]
    indent = items[0][: len(items[0]) - len(items[0].lstrip())] if items else ""
    added = [f"{indent}- {scalar(name)}" for name in names]
    return [*lines[:end], *added, *lines[end:]]


def _add_responses(lines: list[str], responses: dict[str, str]) -> list[str]:
    from tandem.project.yaml_writer import scalar

    block = _key_block(lines, "responses")
    if block is None:
        added = ["responses:"]
        for name, said in responses.items():
            added += [f"  {name}:", f"  - text: {scalar(said)}"]
        return _append(lines, added)
    start, end = block
    keys = [line for line in lines[start + 1 : end] if line.strip() and line[0] in " \t"]
    indent = keys[0][: len(keys[0]) - len(keys[0].lstrip())] if keys else "  "
    added = []
    for name, said in responses.items():
        added += [f"{indent}{name}:", f"{indent}- text: {scalar(said)}"]
    return [*lines[:end], *added, *lines[end:]]


def _append(lines: list[str], added: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return [*lines, "", *added, ""]
