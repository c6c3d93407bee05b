"""Small word lists the detector uses, written by hand from general public knowledge.

They are deliberately small (a few hundred entries): common given names across the languages our
customers write in, honorifics, street-type words and the cues that introduce a name. A name the
lists do not hold is still found through its cues ("my name is", "Mr.") or because the CRM passes
it as a known name. Lists are lower-case; lookups lower-case the token first.
"""

from __future__ import annotations

# Common given names: English, Spanish/Portuguese, French, German/Dutch, Italian, Nordic,
# Slavic, Hungarian, Greek, Turkish, Arabic, Indian, Chinese and Japanese romanisations.
FIRST_NAMES: frozenset[str] = frozenset(
    """
    aaron abigail adam adrian agnes ahmed aisha akira alan albert alejandro aleksandra alex
    alexander alexandra alfred ali alice alicia amanda amelia amy ana andrea andreas andrew andrzej
    angela anna anne annette anthony antonio arjun arthur astrid barbara beatriz ben benjamin bernd
    betty bianca bogdan brandon brian bruno carl carla carlos carmen carol caroline catherine
    charles charlotte chen chiara chloe chris christian christina christine christopher claire
    clara claudia daniel daniela david deborah dennis diana diego dmitri dominik donald donna
    dorothy edward eleanor elena elisabeth elizabeth ella emil emily emma eric erik eva fatima
    felix fernando filip florian francesca francesco francisco frank franz freya gabriel gabriela
    george georg gerhard giovanna giovanni giulia giuseppe grace greta gustav hannah hans harold
    harry hassan heather heinz helen helena henrik henry hiroshi holly hugo ian ibrahim ida igor
    ingrid irene isabel isabella ivan jack jacob jakub james jan jana jane janet jason javier
    jean jennifer jens jessica joan joanna johan johanna john jonas jorge jose josef joseph joshua
    juan judith julia julian julie justin karen karl karin katarzyna kate katherine kathleen
    katrin kenji kevin kim klaus krzysztof kumar lars laura lea leah lena leon leonardo liam lily
    linda lisa liu lorenzo louis louise lucas lucia luis lukas luca magdalena maja marco marek
    margaret maria marie marina mario mark marta martin mary maria mateo matteo matthew max maria
    mei mette michael michal michelle miguel mikael mila mohammed muhammad nadia nancy natalia
    nathan nicholas nicola nicole niklas nina noah nora olaf olga oliver olivia omar oscar pablo
    pamela patricia patrick paul paula pedro peter petra philip pierre pietro piotr priya rachel
    rafael rahul raj ramon rebecca richard rita robert roberto roger rosa ruth ryan sabine sandra
    sara sarah sebastian sergei sergio shirley simon sofia sophia sophie stefan stefano stephanie
    stephen steven susan svetlana tanaka tatiana teresa thomas tim timothy tobias tomas tomasz
    tyler ursula valentina vanessa vera victor victoria viktor vincent virginia walter wang
    wei william wojciech yuki yusuf zoe zofia
    abby adela agata agnieszka aino aleksander alena alessandro alexei alma amalia anders andrei
    anita antonia ari arne asa attila balazs bartosz beata bente birgit bjorn borja camila
    cecilia clemens constantin cristina dag dagny dalia daria dorota edvard eero eija elin elise
    elsa emilia enrique erika ernesto esther eszter eugen evelina fabio federica fredrik gabor
    gisela goran gunnar gustavo hanna hector helga hilde hiroko ilona ines inga irina istvan
    jaroslav jelena jiri joaquin jolanta jonna jorgen juha jukka julio jurgen kaarina kalle kari
    karolina kasper katalin kaz kenta kerstin kirsi knut kristina kristof laszlo leena leif leila
    liisa linnea ludmila lukasz magnus malin manuel marcela marcin marek mariana marianne marit
    marja marketa marko marta mateusz matti mikko milan miroslav monika natasha nikola nils
    noemi oskar paavo pal paolo pavel pekka petr pia radek raquel riikka rodrigo rolf ruben sanna
    satu sigrid silvia sipho siri sofie stanislav sven szabina tamas tapio teodor terje tiina
    timo tomomi tove ulla ulrich valentin vasily veronika viktoria vilhelm vladimir weronika
    willem yasmin yuri zdenek zoltan zsofia
    bryan caitlyn mathias stephan hedvig scott kyle jamie cindy nayla philippe albert erik
    abdul aleksei amir anastasia andre angelo antoine arnaud aurelie beatrice benoit bernard
    bjarne camille carsten christoph dieter dominique elias emile fabian francois frederik
    gilles giorgio guillaume gunther harald heike ingeborg isak jacques jaime jerome jesper
    joachim jonathan josefine juliette kamil karina klara lorenz lucie luka lukas manon marcel
    mathieu maximilian mette nicolas noel oddny ole per pernille rasmus reinhard renata rene
    brad darren ewan melissa harvey antti maite chihiro
    sascha severin solveig soren stig tereza therese thierry tomas ulrike vera werner yannick
    """.split()
)

# Honorifics that precede a name; the name after one is a PERSON.
TITLES: frozenset[str] = frozenset(
    "mr mrs ms miss mx dr prof sir madam dame lord lady herr frau sr sra srta mme mlle".split()
)

# Phrases after which the next capitalised words are a name.
NAME_CUES: tuple[str, ...] = (
    "my name is",
    "my name's",
    "name is",
    "name:",
    "i am",
    "i'm",
    "this is",
    "call me",
    "named",
    "name on the account",
    "user:",
    "dear",
    "hi",
    "hello",
    "thanks,",
    "regards,",
    "signed,",
    "beneficiary",
    "maiden name is",
    # the answer to a question: "What's your last name? Boyle"
    "last name?",
    "first name?",
    "surname?",
    "full name?",
    # a booking named by its code and the traveller's surname: "K4M9TZ, last name Rossi"
    "surname",
    "surname is",
    "surname:",
    "last name",
    "last name is",
    "last name:",
    "family name",
    "family name is",
    "cardholder",
    "passenger",
    "contact person",
    "speak to",
    "spoke to",
    "spoke with",
    "add",
    "by",
)

# Street-type words (English, German, Dutch, Nordic, Romance) that end or begin a street name.
STREET_WORDS: frozenset[str] = frozenset(
    """
    street st road rd avenue ave av boulevard blvd lane ln drive dr court ct place pl square sq
    terrace way crescent close grove gardens park parkway pkwy highway hwy row walk hill circle
    cir trail path view mews rise strasse straße str weg gasse allee platz ring damm ufer laan
    straat gracht plein dijk kade vej gade gatan vägen gata veien tie katu kuja polku rue via
    calle avenida rua viale piazza corso ulica aleja utca út
    """.split()
)

# Words that introduce an address.
ADDRESS_CUES: tuple[str, ...] = (
    "address",
    "live at",
    "lives at",
    "living at",
    "located at",
    "moved to",
    "send it to",
    "sent to",
    "ship to",
    "deliver to",
    "arrived at",
    "return to",
    "lived in",
    "live in",
)

# Capitalised words that start sentences or name things, never a person on their own.
#: words that close a message and name nobody, however the tagger reads them (detector._sign_off)
SIGN_OFFS: frozenset[str] = frozenset(
    {"bye", "bye bye", "bye-bye", "goodbye", "cheers", "thanks", "thank you", "thx", "ciao"}
)

NOT_NAMES: frozenset[str] = frozenset(
    """
    i a an the this that these those my your our their his her its we you they he she it
    hi hello dear thanks thank please yes no ok okay sorry bot user what why how when where who
    which is are was were can could would should will shall may might must do does did have has
    had be been being am and or but if then so because also not very just here there mr mrs ms
    dr monday tuesday wednesday thursday friday saturday sunday january february march april
    june july august september october november december bank card account street road avenue
    customer service support team manager agent phone email address name ssn iban visa
    mastercard amex paypal gold silver platinum member flight airline booking reservation
    at in on to for from with about as of by back now later today tomorrow soon not sure
    going here there still also really new interested looking calling writing
    quick urgent question wondering checking following regarding trying hoping asking needing
    need help again another problem issue update
    apt suite unit flat box floor room po
    """.split()
)

# Countries and common short forms (English names), for LOCATION.
COUNTRIES: frozenset[str] = frozenset(
    name.strip()
    for name in """
    afghanistan, albania, algeria, andorra, angola, argentina, armenia, australia, austria,
    azerbaijan, bahamas, bahrain, bangladesh, barbados, belarus, belgium, belize, benin, bhutan,
    bolivia, bosnia and herzegovina, botswana, brazil, brunei, bulgaria, burkina faso, burundi,
    cambodia, cameroon, canada, cape verde, chad, chile, china, colombia, comoros, congo,
    costa rica, croatia, cuba, cyprus, czech republic, czechia, denmark, djibouti, dominica,
    dominican republic, ecuador, egypt, el salvador, eritrea, estonia, eswatini, ethiopia, fiji,
    finland, france, gabon, gambia, georgia, germany, ghana, greece, greenland, grenada,
    guatemala, guinea, guyana, haiti, honduras, hong kong, hungary, iceland, india, indonesia,
    iran, iraq, ireland, israel, italy, jamaica, japan, jordan, kazakhstan, kenya, kiribati,
    kosovo, kuwait, kyrgyzstan, laos, latvia, lebanon, lesotho, liberia, libya, liechtenstein,
    lithuania, luxembourg, madagascar, malawi, malaysia, maldives, mali, malta, mauritania,
    mauritius, mexico, micronesia, moldova, monaco, mongolia, montenegro, morocco, mozambique,
    myanmar, namibia, nauru, nepal, netherlands, new zealand, nicaragua, niger, nigeria,
    north korea, north macedonia, norway, oman, pakistan, palau, palestine, panama,
    papua new guinea, paraguay, peru, philippines, poland, portugal, qatar, romania, russia,
    rwanda, samoa, san marino, saudi arabia, senegal, serbia, seychelles, sierra leone, singapore,
    slovakia, slovenia, somalia, south africa, south korea, south sudan, spain, sri lanka, sudan,
    suriname, sweden, switzerland, syria, taiwan, tajikistan, tanzania, thailand, togo, tonga,
    trinidad and tobago, tunisia, turkey, turkmenistan, tuvalu, uganda, ukraine,
    united arab emirates, united kingdom, united states, uruguay, uzbekistan, vanuatu, vatican,
    venezuela, vietnam, yemen, zambia, zimbabwe, england, scotland, wales, usa, uk
    """.replace("\n", " ").split(",")
)

# Nationalities and other group adjectives (and their plurals, added at lookup).
NATIONALITIES: frozenset[str] = frozenset(
    """
    afghan albanian algerian american andorran angolan argentine argentinian armenian australian
    austrian azerbaijani bahamian bangladeshi belarusian belgian belizean belizian beninese
    bolivian bosnian brazilian british bruneian bulgarian burmese cambodian cameroonian canadian
    chadian chilean chinese colombian congolese croatian cuban cypriot czech danish dominican
    dutch ecuadorean ecuadorian egyptian emirati english englishman eritrean estonian ethiopian
    fijian filipino finnish french gabonese georgian german ghanaian greek greenlander grenadian
    guatemalan guinean guyanese haitian honduran hungarian icelandic indian indonesian iranian
    iraqi irish israeli italian jamaican japanese jordanian kazakh kenyan korean kosovar kuwaiti
    laotian latvian lebanese liberian libyan lithuanian luxembourgish malagasy malaysian maltese
    mexican moldovan mongolian montenegrin moroccan mozambican namibian nepalese nicaraguan
    nigerian norwegian omani pakistani palestinian panamanian paraguayan peruvian polish
    portuguese qatari romanian russian rwandan saudi scottish senegalese serbian singaporean
    slovak slovenian somali spanish sudanese surinamese swedish swiss syrian taiwanese tajik
    tanzanian thai togolese tunisian turkish ugandan ukrainian uruguayan uzbek venezuelan
    vietnamese welsh yemeni zambian zimbabwean catholic protestant muslim jewish hindu buddhist
    christian sikh sunni shia shii orthodox democrat republican
    """.split()
)

# Capitals and large cities (English or local spelling), for LOCATION. Cities that are also
# ordinary English words (Nice, Reading, Bath) are left out.
CITIES: frozenset[str] = frozenset(
    name.strip()
    for name in """
    amsterdam, athens, auckland, bangkok, barcelona, beijing, belgrade, berlin, bern, bogota,
    bratislava, brussels, bucharest, budapest, buenos aires, cairo, calgary, cape town, chicago,
    copenhagen, dallas, delhi, new delhi, dubai, dublin, edinburgh, edmonton, espoo, frankfurt,
    geneva, glasgow, gothenburg, hamburg, helsinki, hong kong, houston, istanbul, jakarta,
    johannesburg, kiev, kyiv, krakow, lisbon, ljubljana, london, los angeles, luxembourg, lyon,
    madrid, manchester, marseille, melbourne, mexico city, miami, milan, montreal, moscow, mumbai,
    munich, nairobi, naples, new york, nicosia, oslo, ottawa, paris, philadelphia, phoenix,
    porto, prague, reykjavik, riga, rio de janeiro, rome, rotterdam, san francisco, santiago,
    sao paulo, seattle, seoul, shanghai, singapore, sofia, stockholm, sydney, taipei, tallinn,
    tampere, tokyo, toronto, trondheim, turku, vancouver, vienna, vilnius, warsaw, washington,
    wellington, zagreb, zurich, bergen, aarhus, malmo, uppsala, oulu, stavanger, tromsø, nuuk,
    akureyri, limassol, larnaca, paphos, valencia, seville, bilbao, florence, turin, venice,
    genoa, bologna, cologne, stuttgart, dresden, leipzig, antwerp, ghent, liege, charleroi,
    graz, salzburg, innsbruck, brno, ostrava, gdansk, wroclaw, poznan, poznań, lodz, debrecen,
    szeged, tartu, kaunas, split, maribor, porto alegre, lima, quito, caracas, havana
    """.replace("\n", " ").split(",")
)

# The head nouns of job titles ("bus driver", "technical writer", "assistant property
# manager"): general occupational words, written from general knowledge, not from any
# generator's list of job titles. Words ending in -grapher, -ologist, -ician or -iatrist are
# heads too (``quasi.find_occupations``).
OCCUPATIONS: frozenset[str] = frozenset(
    """
    accountant actor actress actuary adjuster administrator adviser advisor agent aide analyst
    announcer appraiser apprentice arbitrator archaeologist architect archivist artist
    assembler assessor assistant astronomer attendant attorney auditor author baker banker
    barber barista bartender biologist blacksmith bookkeeper brewer bricklayer broker builder
    butcher buyer captain carpenter cartographer cashier caretaker caseworker chef chemist
    chiropractor cleaner clerk coach collector columnist commander composer concierge conductor
    consultant contractor controller cook coordinator copywriter coroner correspondent
    counselor counsellor courier craftsman curator custodian dancer dealer decorator dentist
    designer detective developer dietitian diplomat director dispatcher distributor doctor
    draftsman drafter driver economist editor educator electrician embalmer engineer engraver
    estimator examiner executive farmer fabricator firefighter fisherman fitter florist foreman
    forester gardener geologist glazier goldsmith guard hairdresser handler handyman herder
    historian hygienist illustrator inspector installer instructor interpreter interviewer
    investigator jailer janitor jeweler jeweller journalist labourer laborer landscaper lawyer
    lecturer librarian lifeguard linguist locksmith lumberjack machinist maid manager marshal
    mathematician mechanic mediator midwife miner musician navigator negotiator novelist nurse
    nutritionist officer operator optometrist organizer organiser packer painter paralegal
    paramedic pathologist pharmacist philosopher photographer physicist physician pilot planner
    plasterer plumber poet policeman porter postman potter president producer professor
    programmer projectionist promoter proofreader psychologist publicist publisher purchaser
    radiologist rancher receptionist recruiter referee registrar repairer reporter
    representative researcher restorer retailer roofer sailor salesman saleswoman salesperson
    scientist sculptor seaman secretary sheriff singer soldier solicitor sonographer specialist
    statistician steward stewardess stonemason strategist superintendent supervisor surgeon
    surveyor tailor teacher technician technologist teller therapist toolmaker trader trainer
    translator treasurer trucker tutor typist underwriter upholsterer valuer veterinarian
    waiter waitress warden watchman weaver welder worker writer zoologist
    """.split()
)
OCCUPATION_SUFFIXES: tuple[str, ...] = ("grapher", "ologist", "ician", "iatrist")
