"""The hand-off policy: when the matched FAQ entry cannot answer, whatever the score.

One evaluator (`bot.policy.evaluate.evaluate`) tries named rules in order and says which one
fired, on what words, and why:

* rules that hold in any shop, in code (bot/policy/universal.py): an order or waybill number,
  a look-up in the customer's own records, a price or stock level the entry does not state, a
  greeting with no question, asking for a person, asking for a role or a promise;
* trade words as data (bot/policy/data/rules.yaml, extended by a shop's 店小二规则.yaml): conditions
  only the answer may reassure about, facets a near entry leaves out, topic cues, nouns that
  are not products (bot/policy/loader.py);
* the same question about another product than the entry's (bot/policy/subjects.py).

This module imports nothing, so that bot.knowledge can read the topic cues without a cycle.
"""
