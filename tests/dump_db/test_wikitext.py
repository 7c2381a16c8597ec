"""The wikitext rules on small hand-written pages."""

import pytest

from luke_core.dump_db.wikitext import (
    WikitextRules,
    is_disambiguation,
    normalize_title,
    parse_wikitext,
)


def paragraphs(wikitext, rules=None):
    parsed = parse_wikitext(wikitext, rules) if rules else parse_wikitext(wikitext)
    return parsed.paragraphs


def links(paragraph):
    return [(ln.title, ln.text, ln.start, ln.end) for ln in paragraph.links]


def check_offsets(paragraph):
    for link in paragraph.links:
        assert paragraph.text[link.start : link.end] == link.text


def test_links_with_pipes_anchors_and_offsets():
    (p,) = paragraphs("The [[Red fox|fox]] saw [[tokyo#History]] and [[New_York  City]].")
    assert p.text == "The fox saw tokyo#History and New_York  City."
    assert links(p) == [
        ("Red fox", "fox", 4, 7),
        ("Tokyo", "tokyo#History", 12, 25),
        ("New York City", "New_York  City", 30, 44),
    ]
    check_offsets(p)


def test_link_trail_joins_the_link_text():
    (p,) = paragraphs("Two [[bus]]es and a [[cat]], [[dog]]s.")
    assert p.text == "Two buses and a cat, dogs."
    assert links(p) == [("Bus", "buses", 4, 9), ("Cat", "cat", 16, 19), ("Dog", "dogs", 21, 25)]


def test_nested_templates_refs_comments_and_tables_are_dropped():
    text = (
        "Alpha {{Infobox|name={{nested|x}}|a=[[Inside]]}}beta<ref>cite [[Ref link]]</ref> "
        "gamma<!-- hidden [[Hidden]] --> delta.\n"
        '{| class="wikitable"\n|-\n| cell [[In table]]\n|}\n'
        "Epsilon [[Zeta]]."
    )
    ps = paragraphs(text)
    assert [p.text for p in ps] == ["Alpha beta gamma delta.", "Epsilon Zeta."]
    assert links(ps[0]) == []
    assert links(ps[1]) == [("Zeta", "Zeta", 8, 12)]


def test_headings_end_the_abstract_and_their_text_is_dropped():
    ps = paragraphs("Lead [[A]].\nSecond lead.\n== History ==\nBody [[B]].\n=== Sub ===\nMore.")
    assert [(p.text, p.is_abstract) for p in ps] == [
        ("Lead A.", True),
        ("Second lead.", True),
        ("Body B.", False),
        ("More.", False),
    ]


def test_image_captions_are_text_with_their_links():
    text = (
        "Intro [[File:Map.png|thumb|250px|A map of [[Spain]] and [[Portugal|its west]]]]s "
        "text [[Image:x.jpg|left|upright=1.2|Two\nlines]] end."
    )
    (p,) = paragraphs(text)
    # the caption stands where the image does; no link trail after an image
    assert p.text == "Intro A map of Spain and its wests text Two lines end."
    assert links(p) == [("Spain", "Spain", 15, 20), ("Portugal", "its west", 25, 33)]
    check_offsets(p)


@pytest.mark.parametrize(
    "image",
    [
        "[[File:x.jpg]]",
        "[[File:x.jpg|thumb]]",
        "[[Image:x.jpg|thumbnail|250px]]",
        "[[File:x.jpg|200x100px]]",
        "[[File:x.jpg|thumb|right]]",
        "[[File:x.jpg|thumb| upright=1.5 ]]",
        "[[File:x.jpg|thumb|link=Spain]]",
        "[[Datei:x.jpg|mini|hochkant]]",
        "[[Fichier:x.jpg|vignette|gauche]]",
        "[[File:x.jpg|thumb|]]",
    ],
)
def test_image_options_are_no_caption(image):
    (p,) = paragraphs(f"A {image} b.")
    assert p.text == "A  b." and p.links == ()


def test_the_caption_is_the_last_field_that_is_no_option():
    (p,) = paragraphs("[[File:x.jpg|thumb|A [[Spain|map]]|alt=Alt text|right]]")
    assert p.text == "A map" and links(p) == [("Spain", "map", 2, 5)]


def test_image_caption_with_templates_and_nested_images():
    (p,) = paragraphs(
        "[[File:x.jpg|thumb|The {{lang|fr|Louvre}} and [[File:y.png|20px]] [[Paris]]]]"
    )
    assert p.text == "The  and  Paris"
    assert links(p) == [("Paris", "Paris", 10, 15)]


def test_category_links_and_sort_keys_render_nothing():
    (p,) = paragraphs("Text [[Category:Countries]] and [[category:Europe|sort key]] end.")
    assert p.text == "Text  and  end."
    assert p.links == ()


def test_image_captions_can_be_dropped():
    rules = WikitextRules.for_site({6: "File", 14: "Category"}, image_captions=False)
    (p,) = paragraphs("Intro [[File:Map.png|thumb|A map of [[Spain]]]] text.", rules)
    assert p.text == "Intro  text."
    assert p.links == ()


def test_colon_prefixed_category_and_file_links_are_inline_links():
    (p,) = paragraphs("See [[:Category:Countries|countries]] and [[:File:Map.png]].")
    assert links(p) == [
        ("Category:Countries", "countries", 4, 13),
        ("File:Map.png", "File:Map.png", 18, 30),
    ]


def test_links_to_other_wikis_are_no_entity_links():
    (p,) = paragraphs(
        "Farming[[fr:Agronomie]] is [[agronomy]]. See [[wikt:farm|farm]], "
        "[[:de:Landwirtschaft]], [[Re:Zero]] and [[Wikipedia:About]]."
    )
    # an interlanguage link shows nothing; a link to another wiki only its text
    assert (
        p.text == "Farming is agronomy. See farm, de:Landwirtschaft, Re:Zero and Wikipedia:About."
    )
    assert [link[0] for link in links(p)] == ["Agronomy", "Re:Zero", "Wikipedia:About"]
    check_offsets(p)
    # a namespace of the wiki itself wins over a prefix of the same spelling
    rules = WikitextRules.for_site({6: "File", 14: "Category", 100: "Wikt"})
    (p,) = paragraphs("[[wikt:Page]]", rules)
    assert links(p) == [("Wikt:Page", "wikt:Page", 0, 9)]


def test_localised_namespaces_come_from_siteinfo():
    rules = WikitextRules.for_site({6: "Датотека", 14: "Категорија", -2: "Медиј"})
    (p,) = paragraphs("Текст [[Датотека:X.png|мини]] и [[Категорија:Y]] [[Србија]].", rules)
    assert p.text == "Текст  и  Србија."
    assert links(p) == [("Србија", "Србија", 10, 16)]


def test_bold_italic_and_inline_tags_keep_their_text():
    (p,) = paragraphs("'''Bold''' and ''italic'' and <b>b</b> <i>i</i> <u>u</u> x<sup>2</sup>.")
    assert p.text == "Bold and italic and b i u x2."


def test_bold_link_keeps_the_link():
    (p,) = paragraphs("'''[[Anarchism]]''' is a philosophy.")
    assert links(p) == [("Anarchism", "Anarchism", 0, 9)]


def test_external_links_contribute_their_label_only():
    (p,) = paragraphs("See [http://example.org the site] and [http://bare.example.org] now.")
    assert p.text == "See the site and  now."
    assert p.links == ()


def test_html_entities_become_characters():
    (p,) = paragraphs("1990&ndash;1995 AT&amp;T&nbsp;Inc")
    assert p.text == "1990–1995 AT&T Inc"


def test_blank_lines_make_no_paragraph_and_links_stay_in_their_paragraph():
    ps = paragraphs("First [[A]]\n\n   \nSecond [[B]] [[C|c]]")
    assert [p.text for p in ps] == ["First A", "Second B c"]
    assert links(ps[1]) == [("B", "B", 7, 8), ("C", "c", 9, 10)]
    for p in ps:
        check_offsets(p)


def test_same_page_anchor_links_keep_text_without_a_link():
    (p,) = paragraphs("See [[#History|below]].")
    assert p.text == "See below."
    assert p.links == ()


def test_link_text_with_markup_is_stripped():
    (p,) = paragraphs("A [[Foo|''styled'' <span>text</span>]] here.")
    assert links(p) == [("Foo", "styled text", 2, 13)]
    check_offsets(p)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("foo bar", "Foo bar"),
        (":foo", "Foo"),
        ("Foo_Bar#Sec", "Foo Bar"),
        ("  foo   bar ", "Foo bar"),
        ("category:living people", "Category:Living people"),
        ("AT&amp;T", "AT&T"),
        ("#Only anchor", ""),
        ("ñandú", "Ñandú"),
    ],
)
def test_normalize_title(raw, expected):
    assert normalize_title(raw) == expected


def test_case_sensitive_wikis_keep_the_first_letter():
    rules = WikitextRules.for_site({14: "Category"}, case="case-sensitive")
    assert normalize_title("iPhone", rules) == "iPhone"


@pytest.mark.parametrize(
    "text",
    [
        "{{disambiguation}}",
        "{{Disambig|geo}}",
        "{{ dab }}",
        "{{geodis}}",
        "{{Hndis|Smith}}",
        "{{Place name disambiguation}}",
        "{{Begriffsklärung}}",
        "{{Homonymie}}",
        "{{曖昧さ回避}}",
        "__DISAMBIG__",
    ],
)
def test_disambiguation_templates(text):
    assert is_disambiguation("Intro\n" + text)


@pytest.mark.parametrize("text", ["{{Infobox country}}", "{{Disambiguation needed}}", "dab"])
def test_not_disambiguation(text):
    assert not is_disambiguation(text)
