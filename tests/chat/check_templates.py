#!/usr/bin/env python3
"""Renders chat templates with jinja2 (as transformers' apply_chat_template does) and with
sl-chat-template, and requires identical text for every case (or an error on both sides, with
the same message for raise_exception).

usage: check_templates.py SL_CHAT_TEMPLATE WORKDIR
Prints one "PASS <template>: <n> cases identical" line per template (or FAIL lines with the
first differences) and exits non-zero on any mismatch.
"""
import itertools
import json
import os
import subprocess
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = os.path.join(HERE, "..", "..", "models", "tiny", "chat_template.jinja")


# --- the reference: transformers' environment -------------------------------------------------
class RaisedError(jinja2.exceptions.TemplateError):
    pass


def raise_exception(message):
    raise RaisedError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' override of Jinja's tojson: no HTML escaping, keys in insertion order.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def reference(source, case):
    env = make_env()
    try:
        tmpl = env.from_string(source)
        text = tmpl.render(messages=case["messages"], tools=case["tools"], documents=None,
                           add_generation_prompt=case["add_generation_prompt"],
                           bos_token=case["bos_token"], eos_token=case["eos_token"],
                           **case["extra"])
        return {"text": text}
    except RaisedError as e:
        return {"error": str(e), "raised": True}
    except Exception as e:  # noqa: BLE001 - any template failure is an expected outcome
        return {"error": "%s: %s" % (type(e).__name__, e)}


# --- templates --------------------------------------------------------------------------------
CHATML_MINIMAL = """{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"""

LLAMA3_STYLE = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "01 Jan 2025" %}
{%- endif %}
{%- if messages and messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] | trim %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{{- "Today Date: " + date_string + "\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
    {{- "You have access to the following functions:\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in loop_messages %}
    {%- if message.role == 'assistant' and message.tool_calls is defined and message.tool_calls %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {%- for tc in message.tool_calls %}
            {%- set f = tc.function %}
            {{- '{"name": "' + f.name + '", "parameters": ' }}
            {{- f.arguments | tojson }}
            {{- "}" }}
            {%- if not loop.last %}{{ "\\n" }}{% endif %}
        {%- endfor %}
        {{- "<|eom_id|>" }}
    {%- elif message.role in ["tool", "ipython"] %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable and message.content is not string %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- else %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}
        {%- if message['content'] is string %}
        {{- message['content'] | trim }}
        {%- elif message['content'] is none %}
        {%- else %}
            {%- for part in message['content'] if part['type'] == 'text' %}{{ part['text'] | trim }}{% endfor %}
        {%- endif %}
        {{- '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

# Exercises the engine: macros (defaults, caller, varargs/kwargs), namespace(), loop variables,
# filters, tests, operators, string/dict methods, whitespace control, raw, break/continue.
FEATURES = r"""{#- engine stress template -#}
{%- macro content_text(content, prefix='') -%}
  {%- if content is string -%}
    {{- prefix ~ content -}}
  {%- elif content is none -%}
    {{- prefix ~ '(none)' -}}
  {%- elif content is iterable -%}
    {%- for part in content -%}
      {{- prefix }}{{ part.text if part.type == 'text' else '[' ~ part.type | upper ~ ']' -}}
    {%- endfor -%}
  {%- else -%}
    {{- prefix ~ content | string -}}
  {%- endif -%}
{%- endmacro -%}
{%- macro box(title) -%}
[{{ title }}: {{ caller() | trim }}]{% if varargs %} +{{ varargs | length }}{% endif %}{% if kwargs %} {{ kwargs | tojson }}{% endif %}
{%- endmacro -%}
{%- macro wrap(x) %}<{{ x }}>{% endmacro -%}
{%- set ns = namespace(count=0, roles=[], chars=0, last=none, tool_calls=0) -%}
{{ bos_token }}
{% for m in messages %}
  {% set ns.count = ns.count + 1 %}
  {% set ns.roles = ns.roles + [m.role] %}
  {% set text = content_text(m.content) %}
  {% set ns.chars = ns.chars + text | length %}
  {% if m.tool_calls is defined and m.tool_calls %}{% set ns.tool_calls = ns.tool_calls + m.tool_calls | length %}{% endif %}
#{{ loop.index }}/{{ loop.length }} i0={{ loop.index0 }} rev={{ loop.revindex }}/{{ loop.revindex0 }} {{ loop.cycle('odd', 'even') }}{% if loop.first %} FIRST{% endif %}{% if loop.last %} LAST{% endif %}

  prev={{ loop.previtem.role if loop.previtem is defined else '-' }} next={{ loop.nextitem.role if loop.nextitem is defined else '-' }}
  role={{ m.role | upper }}/{{ m.role | title }}/{{ m.role | capitalize }}/{{ m['role'][0] }}{{ m.role[-1:] }}/{{ m.role[::-1] }}
  len={{ text | length }} words={{ text | wordcount }} lines={{ text.split('\n') | length }} upper={{ text[:12] | upper }}
  {%- if text.startswith('<think>') %} thinks{% endif %}
  {%- if '</think>' in text %} reasoning={{ text.split('</think>')[0].replace('<think>', '') | trim | tojson }}{% endif %}

  body:
{{ content_text(m.content, prefix='| ') | indent(4, true) }}
  stripped={{ text.strip() | tojson }} l={{ text.lstrip() | length }} r={{ text.rstrip() | length }}
  {% if m.reasoning_content is defined %}rc={{ m.reasoning_content | default('none', true) }}{% endif %}
  keys={{ m.keys() | list | sort | join(',') }} get={{ m.get('name', 'noname') }}
  {% for k, v in m | dictsort %}{% if k != 'content' %}{{ k }}={{ v if v is string else v | tojson }};{% endif %}{% endfor %}

{% else %}
(no messages)
{% endfor %}
count={{ ns.count }} chars={{ ns.chars }} calls={{ ns.tool_calls }}
roles={{ ns.roles | join(',') }} unique={{ ns.roles | unique | join(',') }} sorted={{ ns.roles | sort(reverse=true) | join(',') }} rev={{ ns.roles | reverse | join(',') }}
users={{ messages | selectattr('role', 'equalto', 'user') | list | length }} others={{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | join(' ') }}
{% if messages %}first={{ (messages | first).role }} last={{ (messages | last).role }} {{ messages | map(attribute='role') | list | tojson }}{% endif %}

math={{ {'n': ns.count, 'odd': ns.count is odd, 'even': ns.count is even, 'half': ns.count / 2, 'floor': ns.count // 2, 'mod': ns.count % 3, 'neg': -ns.count, 'pow': 2 ** ns.count, 'f': (ns.chars / 7) | round(2), 'abs': (-3.5) | abs, 'int': '42' | int, 'flt': '2.5' | float, 'div3': ns.count is divisibleby 3} | tojson }}
cmp={{ ns.count > 2 }} {{ 1 < ns.count <= 4 }} {{ 'user' in ns.roles }} {{ 'nobody' not in ns.roles }} {{ ns.last is none }} {{ none is not none }}
cond={{ 'many' if ns.count > 3 else 'few' }} {{ ns.count and 'yes' or 'no' }} {{ not ns.count }}
tests={{ 1 is number }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is sequence }} {{ 3 is integer }} {{ 1.5 is float }} {{ true is boolean }} {{ undefined_var is undefined }} {{ ns.roles is iterable }}
{% set caps %}{% for r in ns.roles %}{{ r[:1] | upper }}{% endfor %}{% endset %}
caps={{ caps }} {{ caps[::-1] }} {{ caps | lower | replace('u', 'U') }} {{ caps | list | unique | list | length }} {{ 'gen' if (ns.roles | select('equalto', 'nobody')) else 'empty' }}
{% call box('summary', 1, 2, style='bold') %}
  {{ ns.count }} messages
{% endcall %}

{% filter upper %}filtered {{ ns.roles | first | default('nobody') }}{% endfilter %}

{% for r in ns.roles if r != 'system' %}{% if loop.index > 3 %}{% break %}{% endif %}{% if r == 'tool' %}{% continue %}{% endif %}{{ wrap(r) }}{% endfor %}

{% raw %}{{ raw stays }}{% endraw %}
{{ '%s has %d roles' % ('chat', ns.roles | length) }} {{ '{} & {}'.format('a', 'b') }} {{ 'a,b,,c'.split(',') }} {{ 'x y  z'.split() | tojson }}
{{ range(3) | list }} {{ range(1, 10, 3) | join('-') }} {{ [3, 1, 2] | sort | first }} {{ [1, 2, 3] | sum }} {{ [1, 5, 3] | max }} {{ ['b', 'a'] | min }}
{{ ['a', 'b'] + ['c'] }} {{ 'ab' * 3 }} {{ (1, 'two', none, true, 1.0) }} {{ {'k': [1, {'n': none}]} }}
{%- if tools %}

tools={{ tools | length }}: {{ tools | map(attribute='function') | map(attribute='name') | join(', ') }}
{% for t in tools %}{{ t.function.name }}({{ t.function.parameters.properties | list | join(', ') }}) required={{ t.function.parameters.required | default([]) | tojson }}
{% endfor %}
{{- tools[0] | tojson(indent=2) }}
{%- endif %}
{%- if enable_thinking is defined %}

thinking={{ enable_thinking }}
{%- endif %}
{%- if add_generation_prompt %}

>>> {{ eos_token }}
{%- endif %}
"""

TOOL_CALLING = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}
"""

# Whitespace control, trim/lstrip rules and odd spacing, on purpose.
WHITESPACE = """Header line
    {% for m in messages %}
    {# a comment line #}
  - {{ m.role }}:  {{ m.content if m.content is string else '' }}   
	{%- if m.role == 'user' +%}
 (user)
    {%+ endif %}
  {% endfor %}
{%- if add_generation_prompt -%}
     GEN
{% endif %}
  {{- '  trailing  ' -}}
  end
{% raw -%}
   {{ raw }}   
{%- endraw %}
tail
"""

TEMPLATES = {
    "chatml-minimal": CHATML_MINIMAL,
    "llama3-style": LLAMA3_STYLE,
    "features": FEATURES,
    "tool-calling": TOOL_CALLING,
    "whitespace": WHITESPACE,
}

# --- cases ------------------------------------------------------------------------------------
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city (°C).",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. \"Zürich\""},
            "days": {"type": "integer", "minimum": 1},
            "units": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search", "description": "Search the web.\nReturns <= 5 results.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"}, "limit": {"type": "number", "default": 2.5}},
            "required": ["query", "limit"]}}},
]

SYS = {"role": "system", "content": "You are a helpful assistant."}
U1 = {"role": "user", "content": "Hello!"}
A1 = {"role": "assistant", "content": "Hi there. How can I help?"}
U2 = {"role": "user", "content": "What's 2 + 2?"}
A2 = {"role": "assistant", "content": "4"}

TOOL_TURNS = [
    SYS,
    {"role": "user", "content": "Weather in Zürich and Paris for 3 days?"},
    {"role": "assistant", "content": "", "reasoning_content": "I should call the weather tool twice.",
     "tool_calls": [
         {"type": "function", "id": "c1", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 3, "units": "c"}}},
         {"type": "function", "id": "c2", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3, "detail": {"hourly": True, "fields": ["t", None, 1.5]}}}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21, \"sky\": \"sunny\"}"},
    {"role": "tool", "tool_call_id": "c2", "content": "rain\nwind 20 km/h"},
    {"role": "assistant", "content": "<think>\nBoth results are in.\n</think>\nZürich: sunny, 21 °C. Paris: rain."},
    {"role": "user", "content": "Thanks! Now search for umbrellas."},
    {"role": "assistant", "content": "Searching.", "tool_calls": [
        {"type": "function", "function": {"name": "search", "arguments": {"query": "umbrella \"wind proof\"", "limit": 3}}}]},
    {"role": "tool", "content": "1. Umbrella A\n2. Umbrella B"},
]

MESSAGE_SETS = {
    "single-user": [U1],
    "system-user": [SYS, U1],
    "alternating": [SYS, U1, A1, U2, A2, {"role": "user", "content": "And 3 + 3?"}],
    "no-system-multi": [U1, A1, U2, A2],
    "assistant-last": [U1, A1],
    "empty-content": [{"role": "system", "content": ""}, {"role": "user", "content": ""}, {"role": "assistant", "content": ""}],
    "empty-messages": [],
    "unicode": [{"role": "system", "content": "Réponds en français. 日本語も可。"},
                {"role": "user", "content": "Ça va? 🎉 Привет, мир! مرحبا \u00a0nbsp — “quotes” ‘single’"},
                {"role": "assistant", "content": "Très bien 👍🏽 — ünïcödé ß ΣΑΣ"}],
    "multi-line": [{"role": "user", "content": "line one\n  indented two\n\n\tthird with tab\ntrailing   \n"},
                   {"role": "assistant", "content": "\n\nleading newlines\nand\r\nCRLF\n"},
                   {"role": "user", "content": "  spaces around  "}],
    "template-like": [{"role": "user", "content": "Print {{ x }} and {% if %} and {# c #} and <|im_end|> literally, \"quoted\" and 'single' \\ backslash"},
                      {"role": "assistant", "content": "{{ x }} <|im_start|>user"}],
    "reasoning-inline": [U1, {"role": "assistant", "content": "<think>\nThe user greets.\n</think>\nHello! 👋"},
                         U2, {"role": "assistant", "content": "<think>2+2=4</think>4"}],
    "reasoning-field": [SYS, U2, {"role": "assistant", "content": "4", "reasoning_content": "Simple arithmetic."},
                        {"role": "user", "content": "Sure?"},
                        {"role": "assistant", "content": "Yes, 4.", "reasoning_content": "Double-check: 4."}],
    "tools-full": TOOL_TURNS,
    "tools-partial": TOOL_TURNS[:5],
    "content-parts": [{"role": "user", "content": [{"type": "text", "text": "Describe "}, {"type": "image"}, {"type": "text", "text": "this image."}]}],
    "unknown-role": [U1, {"role": "narrator", "content": "Meanwhile..."}],
    "system-not-first": [U1, SYS, A1],
    "long-conversation": [SYS] + [m for i in range(12) for m in (
        {"role": "user", "content": "question %d: %s" % (i, "x" * i)},
        {"role": "assistant", "content": "answer %d%s" % (i, "!" * (i % 3))})],
}


# One-line templates for expression semantics, each rendered with the message set
# "alternating" (errors on both sides count as agreement).
SNIPPETS = [
    "{{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1 / 3 }} {{ 10 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 1e-5 }} {{ 2.5e16 }}",
    "{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }} {{ (1,) }} {{ (1, 2) }} {{ \"it's\" }} {{ [\"it's\", 'a\"b', 'x\\ny'] }}",
    "{{ 'abc'[-1] }} {{ 'abcdef'[1:4] }} {{ 'abcdef'[::2] }} {{ 'abc'[::-1] }} {{ [1, 2, 3][-2:] }} {{ [1, 2, 3][5] }}|{{ {'a': 1}['b'] }}|",
    "{{ 1 == 1.0 }} {{ true == 1 }} {{ '1' == 1 }} {{ none }} {{ True }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }}",
    "{{ 'a' + 1 }}",
    "{{ undefined_thing.attr }}",
    "{{ undefined_thing ~ 'x' }}|{{ undefined_thing | length }}|{{ undefined_thing | default('d') }}|{{ undefined_thing is iterable }}|{{ 'a' in undefined_thing }}",
    "{{ none.attr }}|{{ messages[0].missing }}|{{ messages[99] }}|{{ messages[0].missing is defined }}",
    "{{ x.items }}",
    "{% set ns = namespace(a=1) %}{% set ns.b = ns.a + 1 %}{{ ns.a }} {{ ns.b }} {{ ns.c }}",
    "{% set x = 5 %}{% for i in [1, 2] %}{% set x = i %}[{{ x }}]{% endfor %}{{ x }}",
    "{% for x in [1, 2, 3] %}{% if loop.first %}{% set y = 1 %}{% endif %}[{{ y }}]{% endfor %}",
    "{% macro m(a, b=a) %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(1, b=3) }}{{ m(b=2, a=4) }}",
    "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}",
    "{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, x=2) }}",
    "{{ [3, 1, 2] | sort }} {{ ['b', 'A', 'a'] | sort }} {{ ['b', 'A', 'a'] | sort(case_sensitive=true) }} {{ ['b', 'A', 'a'] | unique | list }}",
    "{{ 'hello world-foo (bar' | title }} {{ \"they're bob\".title() }} {{ 'hELLO' | capitalize }} {{ 'ß x' | upper }}",
    "{{ 2.5 | round }} {{ 3.5 | round }} {{ 3 | round }} {{ 3.14159 | round(2) }} {{ 2.675 | round(2) }} {{ 3.7 | round(0, 'floor') }} {{ 3.2 | round(method='ceil') }}",
    "{{ '3.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '0x1A' | int(base=16) }} {{ '3' | float }} {{ 'nan' | float }} {{ true | int }} {{ 4.9 | int }}",
    "{{ 'a\tb' | indent(2) }}|{{ 'a\n\nb\n' | indent(2) }}|{{ 'a\nb' | indent(2, true, true) }}|{{ 'x\ny' | indent('>> ') }}",
    "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}",
    "{% for a in [1, 2, 3] %}{% if a == 2 %}{% continue %}{% endif %}{{ a }}{% if a == 3 %}{% break %}{% endif %}{% endfor %}x",
    "{{ [1, 2] + [3] }} {{ 'ab' * 2 }} {{ 3 * 'ab' }} {{ 'x' ~ 1 ~ none ~ true }}",
    "{{ '%s-%d' % ('a', 3) }} {{ '%s' | format('x') }} {{ '%5.2f|%-4s|%03d' % (3.14159, 'ab', 7) }} {{ 'a{}b{}'.format(1, 2) }} {{ '{0}{0}{name}'.format(1, name='n') }}",
    "{{ '{:>5}|{:.2f}|{:^7}|{:05d}'.format('a', 1.234, 'mid', 42) }}",
    "{{ 'a{}b{0}'.format(1) }}",
    "{{ 'x' if false }}|{{ (none | string) }}|{{ [none] | join(',') }}|{{ {'a': none} | tojson }}",
    "{{ {'b': [1, 2.0, {'c': none}], 'a': 'é\n\"<>&\\'', 'z': true} | tojson }}",
    "{{ {'b': [1, 2.0, {'c': none}], 'a': [], 'd': {}} | tojson(indent=2) }}",
    "{{ {'b': 1, 'a': {'d': 2, 'c': 3}} | tojson(sort_keys=true) }} {{ [1, 'é'] | tojson(ensure_ascii=true) }} {{ {'a': [1, 2]} | tojson(separators=(',', ':')) }}",
    "{{ messages | tojson }}",
    "{{ u | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | default('d') }} {{ 0 | d('zero', boolean=true) }}",
    "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('even') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ [1, 2, 3] | select('gt', 1) | list }} {{ [1, 5, 9] | select('divisibleby', 3) | list }}",
    "{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(' / ') }} {{ messages | rejectattr('role', 'in', ['user', 'system']) | list | length }}",
    "{{ [{'a': 1}, {'b': 2}] | map(attribute='a') | list }} {{ [{'a': 1}, {'b': 2}] | map(attribute='a', default=0) | list }} {{ ['a', 'B'] | map('upper') | list }}",
    "{{ [{'n': 'b', 'v': 2}, {'n': 'a', 'v': 1}] | sort(attribute='n') | map(attribute='v') | list }} {{ [{'n': 'b', 'v': 2}, {'n': 'a', 'v': 1}] | sort(attribute='v', reverse=true) | map(attribute='n') | join }}",
    "{{ {'b': 1, 'a': 2} | dictsort }} {{ {'b': 1, 'a': 2} | dictsort(by='value', reverse=true) }} {{ {'x': 1} | items | list }} {{ {'x': 1}.items() | list }}",
    "{{ [1, 2, 3] | sum }} {{ [{'v': 1}, {'v': 2}] | sum(attribute='v') }} {{ [3, 1] | max }} {{ ['b', 'a'] | min }} {{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | last }} {{ [] | first }}|",
    "{{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }} {{ 'a b  c' | wordcount }} {{ '  x  ' | trim }}| {{ 'xxaxx' | trim('x') }} {{ 'a' | center(5) }}|",
    "{{ '<a href=\"x\">&</a>' | e }} {{ '<b>' | escape }} {{ '<b>' | safe }} {{ 'abc' | length }} {{ [1, 2] | count }} {{ {'a': 1} | length }}",
    "{{ 'a,b,,c'.split(',') }} {{ 'x y  z'.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a.b.c'.rsplit('.', 1) }} {{ ' a '.strip() }}|{{ 'xxaxx'.strip('x') }} {{ '  a'.lstrip() }} {{ 'a  '.rstrip() }}|",
    "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} {{ 'hello'.replace('l', 'L', 1) }} {{ 'Hello'.upper() }} {{ 'Hello'.lower() }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') }} {{ '-'.join(['a', 'b']) }}",
    "{{ 'a\nb\r\nc'.splitlines() }} {{ '42'.isdigit() }} {{ 'ab'.isalpha() }} {{ 'Ab'.islower() }} {{ {'a': 1}.get('b') }} {{ {'a': 1}.get('a', 5) }} {{ {'a': 1}.keys() | list }} {{ {'a': 1}.values() | list }}",
    "{{ 1 is number }} {{ true is number }} {{ true is integer }} {{ 1.0 is float }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is sequence }} {{ 'a' is sequence }} {{ none is iterable }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }}",
    "{{ 1 is eq 1 }} {{ 1 is equalto 2 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 1 is ge 2 }} {{ 2 is in [1, 2] }} {{ none is none }} {{ true is true }} {{ false is false }} {{ 1 is true }} {{ true is boolean }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ range is callable }}",
    "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ not 1 }} {{ not none }} {{ 1 and 2 }} {{ 0 or 'x' }} {{ none or [] }} {{ 'b' in 'abc' }} {{ 'z' not in ['a'] }} {{ 'a' in {'a': 1} }}",
    "{{ 1 < 'a' }}",
    "{{ -3 | abs }} {{ -(2) }} {{ +3 }} {{ - 2 ** 2 }} {{ 2 * 3 + 1 }} {{ 2 * (3 + 1) }} {{ 10 - 2 - 3 }} {{ 2 ** 3 ** 2 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 ~ 2 + 3 }}",
    "{{ 1 / 0 }}",
    "{{ raise_exception('custom failure: ' ~ messages | length) }}",
    "{% if messages[0].role != 'system' %}{{ raise_exception('need system') }}{% endif %}ok",
    "{{ dict(a=1, b='x') }} {{ namespace(a=1).a }} {{ dict({'z': 1}, y=2) | tojson }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (3, 4) %}{% set c, d = t %}{{ c + d }}",
    "{% for k, v in {'x': 1, 'y': 2} | items %}{{ k }}={{ v }}{{ ',' if not loop.last }}{% endfor %}",
    "{% for i in range(4) %}{{ loop.cycle('a', 'b', 'c') }}{{ loop.revindex0 }}{% if loop.changed(i // 2) %}*{% endif %}{% endfor %}",
    "{% for m in messages if m.role == 'user' %}{{ loop.index }}:{{ m.content }}{{ '|' if not loop.last }}{% else %}none{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %}",
    "{% set s %}  block {{ 1 + 1 }}  {% endset %}[{{ s }}]{% set t | upper | trim %}  up {% endset %}[{{ t }}]",
    "{% filter upper | replace('A', '4') %}abc{{ 'a' }}{% endfilter %}",
    "{% macro outer() %}<{{ caller() }}>{% endmacro %}{% call outer() %}inner {{ messages | length }}{% endcall %}",
    "{% macro list_(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) list_([1, 2]) %}[{{ x * 10 }}]{% endcall %}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}",
    "{% raw %}{{ x }}{% endraw %} {%- raw -%}  {% if %}  {%- endraw %}",
    "a  {#- comment -#}  b {# c #} d\n  {# own line #}\ne",
    "{{- '  x  ' -}}  \n  {{ 'y' }}\n{%- if true -%}\n  z\n{%- endif %}",
    "  {% if true %}\n  x\n  {% endif %}\n  y  {# c #}\nz\n",
    "a {%+ if true %}b{% endif +%}\nc",
    "{% if true %}\r\nwin\r\n{% endif %}\r\n",
    "{{ 'trailing newline kept?' }}\n\n",
    "{{ messages[0]['content'][:5] ~ '…' }} {{ messages | length > 3 }} {{ (messages | map(attribute='role') | list)[1:3] }}",
    "{{ messages[-1].content | tojson }} {{ messages[-1] | tojson(indent=1) }}",
    "{{ 9999999999999 * 1000 }} {{ 0.000123 }} {{ 123456789.123 }} {{ 1.5e300 * 1e10 }} {{ -0.0 }} {{ 3.0 * 2 }}",
    "{{ 'é' | length }} {{ '日本語'[1] }} {{ '🎉x'[::-1] }} {{ 'ÉCOLE' | lower }} {{ 'straße' | title }}",
    "{{ [1, 2] | batch(1) | list }} {{ 'abcdefghij' | truncate(7, leeway=0) }} {{ 'x' | attr('upper') is callable }}",
    "{{ foo(1) }}",
    "{{ 'a' | nosuchfilter }}",
    "{% if true %}unclosed",
    "{% for x in %}{% endfor %}",
    "{{ 1 + }}",
    "{% endif %}",
    "{{ 'unterminated }}",
    "{% set x = [1, 2] %}{{ x | selectattr('missing') | list }}",
    "{{ strftime_now('%Y') | length }}",
]

EXTRAS = [{}, {"enable_thinking": True}, {"enable_thinking": False}]


def cases():
    out = []
    for (set_name, msgs), gen, extra, with_tools in itertools.product(
            MESSAGE_SETS.items(), [False, True], EXTRAS, [False, True]):
        out.append({"name": "%s gen=%s extra=%s tools=%s" % (set_name, gen, json.dumps(extra), with_tools),
                    "messages": msgs, "tools": TOOLS if with_tools else None,
                    "add_generation_prompt": gen, "extra": extra,
                    "bos_token": "<s>", "eos_token": "</s>"})
    out.append({"name": "llama date", "messages": [SYS, U1], "tools": None, "add_generation_prompt": True,
                "extra": {"date_string": "29 Feb 2028"}, "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})
    return out


def run_tool(tool, template_path, all_cases, workdir, name):
    inp = os.path.join(workdir, name + ".cases.jsonl")
    with open(inp, "w", encoding="utf-8") as f:
        for c in all_cases:
            f.write(json.dumps({k: v for k, v in c.items() if k != "name"}, ensure_ascii=False) + "\n")
    with open(inp, "rb") as f:
        proc = subprocess.run([tool, "--template", template_path], stdin=f, capture_output=True)
    if proc.returncode != 0:
        return None, proc.stderr.decode("utf-8", "replace")
    lines = proc.stdout.decode("utf-8").splitlines()
    return [json.loads(l) for l in lines], None


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    tool, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    templates = dict(TEMPLATES)
    with open(TINY, encoding="utf-8") as f:
        templates["tiny-nemotron-h"] = f.read()
    all_cases = cases()
    failed = False
    for name, source in templates.items():
        path = os.path.join(workdir, name + ".jinja")
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        got, err = run_tool(tool, path, all_cases, workdir, name)
        if got is None:
            print("FAIL %s: sl-chat-template failed: %s" % (name, err.strip()))
            failed = True
            continue
        if len(got) != len(all_cases):
            print("FAIL %s: %d results for %d cases" % (name, len(got), len(all_cases)))
            failed = True
            continue
        bad = []
        texts = errors = 0
        for c, g in zip(all_cases, got):
            ref = reference(source, c)
            if "text" in ref:
                ok = g.get("text") == ref["text"]
                texts += 1
            else:
                ok = "error" in g and (not ref.get("raised") or g["error"] == ref["error"])
                errors += 1
            if not ok:
                bad.append((c["name"], ref, g))
        if bad:
            failed = True
            print("FAIL %s: %d of %d cases differ" % (name, len(bad), len(all_cases)))
            for cname, ref, g in bad[:3]:
                print("  case: " + cname)
                print("    jinja2: " + json.dumps(ref, ensure_ascii=False))
                print("    sl:     " + json.dumps(g, ensure_ascii=False))
        else:
            print("PASS %s: %d cases identical (%d texts, %d errors on both sides)" % (
                name, len(all_cases), texts, errors))
    # Expression snippets: one template each, one case each.
    snippet_case = {"name": "snippet", "messages": MESSAGE_SETS["alternating"], "tools": None,
                    "add_generation_prompt": True, "extra": {}, "bos_token": "<s>", "eos_token": "</s>"}
    bad = []
    texts = errors = 0
    for i, source in enumerate(SNIPPETS):
        path = os.path.join(workdir, "snippet%03d.jinja" % i)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(source)
        ref = reference(source, snippet_case)
        got, err = run_tool(tool, path, [snippet_case], workdir, "snippet%03d" % i)
        if got is None:
            g = {"error": err.strip()}  # a template that does not parse: an error on our side
        else:
            g = got[0]
        if "text" in ref:
            ok = g.get("text") == ref["text"]
            texts += 1
        else:
            ok = "error" in g and (not ref.get("raised") or g["error"] == ref["error"])
            errors += 1
        if not ok:
            bad.append((source, ref, g))
    if bad:
        failed = True
        print("FAIL snippets: %d of %d differ" % (len(bad), len(SNIPPETS)))
        for source, ref, g in bad:
            print("  template: " + json.dumps(source, ensure_ascii=False))
            print("    jinja2: " + json.dumps(ref, ensure_ascii=False))
            print("    sl:     " + json.dumps(g, ensure_ascii=False))
    else:
        print("PASS snippets: %d templates identical (%d texts, %d errors on both sides)" % (
            len(SNIPPETS), texts, errors))
    print("FAILED" if failed else "ALL PASSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
