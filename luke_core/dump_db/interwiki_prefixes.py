"""Link prefixes that point out of the wiki: MediaWiki shows `[[fr:Agronomie]]` as an
interlanguage link beside the article (no text), and `[[wikt:word]]` or `[[:fr:Agronomie]]`
as a link to another wiki. Neither is a link to an article of this wiki, so neither may
become an entity mention. A wiki's own namespace names win over these (its `<siteinfo>`)."""

from __future__ import annotations

# The language editions of Wikipedia (their interlanguage prefixes), including the old
# aliases still accepted in links.
WIKIPEDIA_LANGUAGES = frozenset(
    """
    aa ab ace ady af ak als alt am ami an ang anp ar arc ary arz as ast atj av avk awa ay az
    azb ba ban bar bat-smg bbc bcl bdr be be-tarask be-x-old bew bg bh bi bjn blk bm bn bo bpy
    br bs btm bug bxr ca cbk-zam cdo ce ceb ch cho chr chy ckb co cr crh cs csb cu cv cy da
    dag de dga din diq dsb dtp dty dv dz ee el eml en eo es et eu ext fa fat ff fi fiu-vro fj
    fo fon fr frp frr fur fy ga gag gan gcr gd gl glk gn gom gor got gpe gsw gu guc gur guw
    gv ha hak haw he hi hif ho hr hsb ht hu hy hyw hz ia iba id ie ig igl ii ik ilo inh io is
    it iu ja jam jbo jv ka kaa kab kbd kbp kcg kg kge ki kj kk kl km kn knc ko koi kr krc ks
    ksh ku kus kv kw ky la lad lb lbe lez lfn lg li lij lld lmo ln lo lrc lt ltg lv lzh mad
    mai map-bms mdf mg mh mhr mi min mk ml mn mni mnw mos mr mrj ms mt mus mwl my myv mzn na
    nah nan nap nb nds nds-nl ne new ng nia nl nn no nov nqo nr nrm nso nup nv ny oc olo om
    or os pa pag pam pap pcd pcm pdc pfl pi pih pl pms pnb pnt ps pt pwn qu rm rmy rn ro
    roa-rup roa-tara rsk ru rue rup rw sa sah sat sc scn sco sd se sg sgs sh shi shn si
    simple sk skr sl sm smn sn so sq sr srn ss st stq su sv sw syl szl szy ta tay tcy tdd te
    tet tg th ti tig tk tl tly tn to tok tpi tr trv ts tt tum tw ty tyv udm ug uk ur uz ve
    vec vep vi vls vo vro wa war wo wuu xal xh xmf yi yo yue za zea zgh zh zh-classical
    zh-min-nan zh-yue zu
    """.split()  # noqa: SIM905 - a list as a word list reads best
)

# Interwiki prefixes of the Wikimedia projects and a few common outside sites
# (Meta-Wiki's interwiki map). `wikipedia` is left out: it is the project namespace.
INTERWIKI_PREFIXES = frozenset(
    """
    w wikt wiktionary s wikisource b wikibooks q wikiquote n wikinews v wikiversity voy
    wikivoyage d wikidata c commons m meta metawikimedia mw mediawikiwiki species
    wikispecies f wikifunctions wmf foundation incubator outreach phab phabricator
    wikitech doi arxiv rfc oeis imdbname imdbtitle google wikia fandom
    """.split()  # noqa: SIM905 - a list as a word list reads best
)
